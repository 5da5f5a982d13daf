// The client process of bench/xds-push: opens one SotW ADS stream per simulated proxy over its own
// mTLS connection (its own SVID), and behaves like Envoy: CDS and LDS with wildcard requests, EDS
// for the clusters it learned, RDS for the route configs its listeners name, and an ACK for every
// response. Driven over the IPC channel:
//   → {type: 'ready'}                             once the protos are loaded
//   ← {type: 'start', port, rootPem, proxies: [{id, key, cert}]}
//   ← {type: 'await', version, types, timeoutMs}  wait until every proxy ACKed `types` at `version`
//   → {type: 'arrived', times: (number|null)[]}   per proxy, when the last of them arrived (epoch ms)
//   → {type: 'error', message}                    a stream failed
import { type ClientDuplexStream, credentials } from '@grpc/grpc-js';
import {
  type DiscoveryRequest,
  type DiscoveryResponse,
  XDS_TYPE_URL,
  decodeAny,
  loadXdsServices,
} from '@parley/api';

/** Wall-clock milliseconds with sub-millisecond precision, comparable across processes. */
const now = () => performance.timeOrigin + performance.now();
const send = (message: unknown) => process.send?.(message);

type Start = {
  type: 'start';
  port: number;
  rootPem: string;
  proxies: { id: string; key: string; cert: string }[];
};
type Await = { type: 'await'; version: string; types: string[]; timeoutMs: number };

interface Proxy {
  /** Per type URL: the version last ACKed and when its response arrived. */
  readonly acked: Map<string, { version: string; at: number }>;
}

const proxies: Proxy[] = [];
let waiting: { msg: Await; timer: NodeJS.Timeout } | undefined;

function arrivals(msg: Await): (number | null)[] {
  return proxies.map((p) => {
    let last = 0;
    for (const t of msg.types) {
      const a = p.acked.get(t);
      if (a?.version !== msg.version) return null;
      last = Math.max(last, a.at);
    }
    return last;
  });
}

function check(): void {
  if (waiting === undefined) return;
  const times = arrivals(waiting.msg);
  if (times.some((t) => t === null)) return;
  clearTimeout(waiting.timer);
  waiting = undefined;
  send({ type: 'arrived', times });
}

function routeNames(r: DiscoveryResponse): string[] {
  return r.resources.flatMap((any) => {
    const l = decodeAny(any) as {
      filter_chains?: { filters?: { typed_config?: { rds?: { route_config_name?: string } } }[] }[];
    };
    return (l.filter_chains ?? []).flatMap((fc) =>
      (fc.filters ?? []).flatMap((f) => f.typed_config?.rds?.route_config_name ?? []),
    );
  });
}

function open(start: Start, spec: Start['proxies'][number]): void {
  const client = new Ads(
    `127.0.0.1:${start.port}`,
    credentials.createSsl(
      Buffer.from(start.rootPem),
      Buffer.from(spec.key),
      Buffer.from(spec.cert),
      {
        checkServerIdentity: () => undefined,
      },
    ),
    {
      'grpc.use_local_subchannel_pool': 1,
      'grpc.max_receive_message_length': 64 << 20,
      'grpc.ssl_target_name_override': 'localhost',
    },
  ) as unknown as {
    StreamAggregatedResources(): ClientDuplexStream<DiscoveryRequest, DiscoveryResponse>;
  };
  const proxy: Proxy = { acked: new Map() };
  proxies.push(proxy);
  const call = client.StreamAggregatedResources();
  const req = (r: Partial<DiscoveryRequest>) => call.write(r as DiscoveryRequest);
  const names = new Map<string, string[]>([
    [XDS_TYPE_URL.cluster, []],
    [XDS_TYPE_URL.listener, []],
  ]);
  call.on('data', (r: DiscoveryResponse) => {
    const at = now();
    if (r.type_url === XDS_TYPE_URL.cluster) {
      // Cluster names are field 1 of the Cluster message; Envoy asks EDS for every EDS cluster.
      const clusters = r.resources
        .map((any) => decodeAny(any) as { name: string; type?: string })
        .filter((c) => c.type === 'EDS')
        .map((c) => c.name);
      names.set(XDS_TYPE_URL.endpoint, clusters);
      req({ type_url: XDS_TYPE_URL.endpoint, resource_names: clusters, response_nonce: '' });
    } else if (r.type_url === XDS_TYPE_URL.listener) {
      const routes = routeNames(r);
      names.set(XDS_TYPE_URL.route, routes);
      req({ type_url: XDS_TYPE_URL.route, resource_names: routes, response_nonce: '' });
    }
    req({
      type_url: r.type_url,
      version_info: r.version_info,
      response_nonce: r.nonce,
      resource_names: names.get(r.type_url) ?? [],
    });
    proxy.acked.set(r.type_url, { version: r.version_info, at });
    check();
  });
  call.on('error', (err: Error) => {
    if (!stopping) send({ type: 'error', message: `${spec.id}: ${err.message}` });
  });
  req({
    node: {
      id: spec.id,
      cluster: 'bench',
      user_agent_name: 'bench',
      // Each simulated proxy fronts the first instance of its service.
      metadata: { fields: { instance: { stringValue: `${spec.id.split('/').pop() ?? ''}-0` } } },
    },
    type_url: XDS_TYPE_URL.cluster,
  });
  req({ type_url: XDS_TYPE_URL.listener });
}

const Ads = loadXdsServices().AggregatedDiscoveryService;
let stopping = false;
process.on('disconnect', () => {
  stopping = true;
  process.exit(0);
});
process.on('message', (msg: Start | Await) => {
  if (msg.type === 'start') {
    for (const p of msg.proxies) open(msg, p);
  } else {
    waiting = {
      msg,
      timer: setTimeout(() => {
        send({ type: 'arrived', times: arrivals(msg) });
        waiting = undefined;
      }, msg.timeoutMs),
    };
    check();
  }
});
send({ type: 'ready' });
