import { createHash } from 'node:crypto';
import { XDS_TYPE_URL, type XdsTypeUrl } from '@parley/api';
import { ParleyError } from '@parley/core';
import type { Endpoint, MeshConfig, Route, Service, TrafficPolicy } from '../model/mesh-config.js';
import type {
  MeshSnapshot,
  ProxyNode,
  ProxyResources,
  XdsResource,
} from '../snapshot/mesh-snapshot.js';
import { OverlayMap } from '../snapshot/overlay-map.js';
import { destinationCluster, inboundAppCluster, proxylessCluster } from './clusters.js';
import { clusterLoadAssignment } from './endpoints.js';
import { DEFAULT_HTTP_FILTERS, type HttpFilterPiece } from './filters.js';
import { OUTBOUND_LISTENER, apiListener, inboundListener, outboundListener } from './listeners.js';
import {
  egressSecrets,
  outboundRouteConfiguration,
  proxylessRouteConfiguration,
} from './routes.js';
import { xdsResource } from './xds-resource.js';

/** What `compileMesh` needs besides the config. */
export interface CompileOptions {
  /** The commit SHA of the config (the snapshot's version). */
  readonly commit: string;
  /** Endpoints registered at run time (by `parley up`, from Kubernetes), by service name. */
  readonly endpoints?: ReadonlyMap<string, readonly Endpoint[]>;
  /** Generation of `endpoints` after the commit; > 0 appends `.e<N>` to the version. */
  readonly endpointGeneration?: number;
  /** The mesh's own trust domain; destinations of other domains validate with their bundle. */
  readonly trustDomain?: string;
  /** HTTP filter pieces of other modules (authorization), added to fault injection. */
  readonly httpFilters?: readonly HttpFilterPiece[];
}

/** The metadata key naming the instance a proxy fronts (`node.metadata.instance`). */
export const INSTANCE_METADATA_KEY = 'instance';

/** The metadata key that marks a proxyless gRPC client (`node.metadata.proxyless: true`). */
export const PROXYLESS_METADATA_KEY = 'proxyless';

/**
 * The certificate provider instance a proxyless client's bootstrap must define
 * (`certificate_providers.parley`): its own SVID and key, and the bundle it trusts.
 */
export const PROXYLESS_CERTIFICATE_PROVIDER = 'parley';

/** Name (or name prefix, `proxyless.<hash>`) of the RouteConfiguration of proxyless clients. */
export const PROXYLESS_ROUTE_CONFIGURATION = 'proxyless';

const ALL = '*';
const MAX_OWN_CACHE = 100_000;

interface OutboundSet {
  /** What identifies the set (`*` for every service). */
  readonly key: string;
  /** The HTTP destinations (the virtual hosts of its route configuration). */
  readonly hosts: readonly Service[];
  readonly routeName: string | undefined;
  readonly route: XdsResource | undefined;
  /** Clusters (and load assignments) the proxy gets: the set plus route destinations, mirrors. */
  readonly clusterNames: readonly string[];
  readonly clusters: ReadonlyMap<string, XdsResource>;
}

/** What a proxyless gRPC client with a given outbound set gets (compiled on first request). */
interface ProxylessSet {
  readonly listeners: ReadonlyMap<string, XdsResource>;
  readonly routes: ReadonlyMap<string, XdsResource>;
  readonly clusters: ReadonlyMap<string, XdsResource>;
}

interface OwnResources {
  readonly listeners: ReadonlyMap<string, XdsResource>;
  readonly clusters: ReadonlyMap<string, XdsResource>;
}

/** Everything compiled from one commit of the config; shared by its endpoint generations. */
class MeshPlan {
  readonly services = new Map<string, Service>();
  readonly byId = new Map<string, Service>();
  readonly routes = new Map<string, Route>();
  readonly policies = new Map<string, TrafficPolicy>();
  readonly clusters = new Map<string, XdsResource>();
  readonly outboundSets = new Map<string, OutboundSet>();
  readonly own = new Map<string, OwnResources>();
  readonly proxylessClusters = new Map<string, XdsResource>();
  readonly proxylessSets = new Map<string, ProxylessSet>();
  readonly filters: readonly HttpFilterPiece[];
  readonly extraClusters = new Map<string, XdsResource>();

  constructor(
    readonly config: MeshConfig,
    readonly trustDomain: string | undefined,
    extraFilters: readonly HttpFilterPiece[],
  ) {
    this.filters = [...DEFAULT_HTTP_FILTERS, ...extraFilters];
    for (const c of extraFilters.flatMap((p) => p.clusters ?? [])) {
      const name = c['name'] as string;
      this.extraClusters.set(name, xdsResource(XDS_TYPE_URL.cluster, name, c));
    }
    for (const s of config.services) {
      this.services.set(s.metadata.name, s);
      this.byId.set(s.spiffeId.toString(), s);
    }
    for (const r of config.routes) this.routes.set(r.host, r);
    for (const p of config.trafficPolicies) this.policies.set(p.host, p);
    for (const s of config.services) {
      const name = s.metadata.name;
      this.clusters.set(
        name,
        xdsResource(
          XDS_TYPE_URL.cluster,
          name,
          destinationCluster(s, this.policies.get(name), trustDomain),
        ),
      );
    }
  }

  /** The destinations a service's sidecars can call, compiled once per distinct set. */
  outboundSet(service: Service): OutboundSet {
    const listed = service.sidecar.outbound;
    const fallback = service.sidecar.defaultDestination;
    const key =
      (listed === undefined ? ALL : [...new Set(listed)].sort().join(',')) +
      (fallback === undefined ? '' : `>${fallback}`);
    let set = this.outboundSets.get(key);
    if (set !== undefined) return set;
    const hosts =
      listed === undefined
        ? this.config.services
        : [...new Set(listed)].sort().flatMap((n) => this.services.get(n) ?? []);
    const httpHosts = hosts.filter((s) => s.ports[0]?.protocol !== 'tcp');
    const names = new Set(hosts.map((s) => s.metadata.name));
    for (const h of httpHosts) {
      for (const rule of this.routes.get(h.metadata.name)?.rules ?? []) {
        for (const d of rule.destinations) names.add(d.service);
        if (rule.mirror !== undefined) names.add(rule.mirror.service);
      }
    }
    const clusterNames = [...names].sort();
    const routeName =
      httpHosts.length === 0 ? undefined : `${OUTBOUND_LISTENER}${routeNameSuffix(key)}`;
    set = {
      key,
      hosts: httpHosts,
      routeName,
      route:
        routeName === undefined
          ? undefined
          : xdsResource(
              XDS_TYPE_URL.route,
              routeName,
              outboundRouteConfiguration(
                routeName,
                httpHosts,
                this.routes,
                this.policies,
                httpHosts.find((h) => h.metadata.name === fallback),
              ),
            ),
      clusterNames,
      clusters:
        key === ALL && fallback === undefined
          ? this.clusters
          : new Map(
              clusterNames.flatMap((n) => {
                const c = this.clusters.get(n);
                return c === undefined ? [] : [[n, c] as const];
              }),
            ),
    };
    this.outboundSets.set(key, set);
    return set;
  }

  /**
   * What a proxyless gRPC client calling `set` gets: an API listener per destination (named
   * `name` and `name:port`), one RouteConfiguration, and clusters with certificate-provider mTLS.
   */
  proxylessSet(set: OutboundSet): ProxylessSet {
    let compiled = this.proxylessSets.get(set.key);
    if (compiled !== undefined) return compiled;
    const listeners = new Map<string, XdsResource>();
    const routes = new Map<string, XdsResource>();
    if (set.hosts.length > 0) {
      const routeName = `${PROXYLESS_ROUTE_CONFIGURATION}${routeNameSuffix(set.key)}`;
      routes.set(
        routeName,
        xdsResource(
          XDS_TYPE_URL.route,
          routeName,
          proxylessRouteConfiguration(routeName, set.hosts, this.routes, this.policies),
        ),
      );
      for (const host of set.hosts) {
        const name = host.metadata.name;
        for (const l of [name, ...host.ports.map((p) => `${name}:${p.port}`)]) {
          listeners.set(l, xdsResource(XDS_TYPE_URL.listener, l, apiListener(l, routeName)));
        }
      }
    }
    const clusters = new Map<string, XdsResource>();
    for (const name of set.clusterNames) {
      let cluster = this.proxylessClusters.get(name);
      const service = this.services.get(name);
      if (cluster === undefined && service !== undefined) {
        cluster = xdsResource(
          XDS_TYPE_URL.cluster,
          name,
          proxylessCluster(service, this.policies.get(name), PROXYLESS_CERTIFICATE_PROVIDER),
        );
        this.proxylessClusters.set(name, cluster);
      }
      if (cluster !== undefined) clusters.set(name, cluster);
    }
    compiled = { listeners, routes, clusters };
    this.proxylessSets.set(set.key, compiled);
    return compiled;
  }

  /** The listeners and local cluster of one proxy (memoized by what determines them). */
  ownResources(service: Service, endpoint: Endpoint | undefined, set: OutboundSet): OwnResources {
    const key = JSON.stringify([service.metadata.name, endpoint ?? null]);
    let own = this.own.get(key);
    if (own !== undefined) return own;
    const listeners = new Map<string, XdsResource>();
    const clusters = new Map<string, XdsResource>();
    if (endpoint !== undefined) {
      const l = inboundListener(service, endpoint, this.filters);
      listeners.set(
        l['name'] as string,
        xdsResource(XDS_TYPE_URL.listener, l['name'] as string, l),
      );
      const c = inboundAppCluster(service, endpoint);
      clusters.set(c['name'] as string, xdsResource(XDS_TYPE_URL.cluster, c['name'] as string, c));
      for (const [name, extra] of this.extraClusters) clusters.set(name, extra);
    }
    if (set.routeName !== undefined) {
      const address = endpoint?.outbound ?? {
        host: '127.0.0.1',
        port: service.sidecar.outboundPort,
      };
      const l = outboundListener(
        service,
        address,
        set.routeName,
        this.filters,
        endpoint,
        egressSecrets(set.hosts, this.routes),
      );
      listeners.set(OUTBOUND_LISTENER, xdsResource(XDS_TYPE_URL.listener, OUTBOUND_LISTENER, l));
    }
    own = { listeners, clusters };
    if (this.own.size >= MAX_OWN_CACHE) this.own.clear();
    this.own.set(key, own);
    return own;
  }
}

/** The suffix that tells route configurations of different outbound sets apart. */
function routeNameSuffix(key: string): string {
  return key === ALL ? '' : `.${createHash('sha256').update(key).digest('hex').slice(0, 8)}`;
}

/** Static endpoints of a service, overridden (by name) and extended by registered ones. */
function endpointsOf(service: Service, dynamic: readonly Endpoint[] | undefined): Endpoint[] {
  const byName = new Map(service.endpoints.map((e) => [e.name, e]));
  for (const e of dynamic ?? []) byName.set(e.name, e);
  return [...byName.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

function loadAssignment(plan: MeshPlan, service: Service, endpoints: readonly Endpoint[]) {
  const name = service.metadata.name;
  return xdsResource(
    XDS_TYPE_URL.endpoint,
    name,
    clusterLoadAssignment(service, endpoints, plan.policies.get(name)),
  );
}

/** One endpoint generation of a compiled commit. */
class CompiledSnapshot implements MeshSnapshot {
  readonly version: string;
  readonly #edsSubsets = new Map<string, ReadonlyMap<string, XdsResource>>();

  constructor(
    readonly plan: MeshPlan,
    readonly commit: string,
    readonly generation: number,
    readonly dynamic: ReadonlyMap<string, readonly Endpoint[]>,
    readonly loadAssignments: ReadonlyMap<string, XdsResource>,
  ) {
    this.version = generation > 0 ? `${commit}.e${generation}` : commit;
  }

  /** Every endpoint of a service (static and registered). */
  endpoints(service: Service): Endpoint[] {
    return endpointsOf(service, this.dynamic.get(service.metadata.name));
  }

  resourcesFor(
    node: ProxyNode,
  ): { ok: true; resources: ProxyResources } | { ok: false; reason: string } {
    const service = this.plan.byId.get(node.id);
    if (service === undefined)
      return { ok: false, reason: `no Service has SPIFFE ID ${node.id.slice(0, 256)}` };
    const name = service.metadata.name;
    const proxyless = node.metadata[PROXYLESS_METADATA_KEY];
    if (proxyless !== undefined && typeof proxyless !== 'boolean') {
      return {
        ok: false,
        reason: `node.metadata.${PROXYLESS_METADATA_KEY} must be true or false`,
      };
    }
    if (proxyless === true) {
      const set = this.plan.outboundSet(service);
      const p = this.plan.proxylessSet(set);
      return {
        ok: true,
        resources: new Map<XdsTypeUrl, ReadonlyMap<string, XdsResource>>([
          [XDS_TYPE_URL.listener, p.listeners],
          [XDS_TYPE_URL.route, p.routes],
          [XDS_TYPE_URL.cluster, p.clusters],
          [XDS_TYPE_URL.endpoint, this.#eds(set)],
        ]),
      };
    }
    if (service.ports[0]?.protocol === 'tcp') {
      return {
        ok: false,
        reason: `Service "${name}" is tcp, which the compiler does not support yet`,
      };
    }
    const instance = node.metadata[INSTANCE_METADATA_KEY];
    const endpoints = this.endpoints(service);
    let endpoint: Endpoint | undefined;
    if (instance === undefined) {
      if (endpoints.length > 1) {
        return {
          ok: false,
          reason: `Service "${name}" has ${endpoints.length} instances: node.metadata.${INSTANCE_METADATA_KEY} must name one`,
        };
      }
      endpoint = endpoints[0];
    } else {
      endpoint = endpoints.find((e) => e.name === instance);
      if (endpoint === undefined) {
        return {
          ok: false,
          reason: `Service "${name}" has no instance ${JSON.stringify(instance).slice(0, 80)}`,
        };
      }
    }
    const set = this.plan.outboundSet(service);
    const own = this.plan.ownResources(service, endpoint, set);
    const resources = new Map<XdsTypeUrl, ReadonlyMap<string, XdsResource>>([
      [XDS_TYPE_URL.listener, own.listeners],
      [
        XDS_TYPE_URL.route,
        set.route === undefined ? new Map() : new Map([[set.route.name, set.route]]),
      ],
      [XDS_TYPE_URL.cluster, new OverlayMap(set.clusters, own.clusters)],
      [XDS_TYPE_URL.endpoint, this.#eds(set)],
    ]);
    return { ok: true, resources };
  }

  #eds(set: OutboundSet): ReadonlyMap<string, XdsResource> {
    if (set.clusters === this.plan.clusters) return this.loadAssignments;
    const key = set.clusterNames.join(',');
    let eds = this.#edsSubsets.get(key);
    if (eds === undefined) {
      eds = new Map(
        set.clusterNames.flatMap((n) => {
          const r = this.loadAssignments.get(n);
          return r === undefined ? [] : [[n, r] as const];
        }),
      );
      this.#edsSubsets.set(key, eds);
    }
    return eds;
  }
}

/**
 * Compiles a validated mesh config into an immutable snapshot (pure and deterministic: the same
 * input gives byte-identical resources). Every resource is schema-checked by `encodeAny`;
 * clusters, load assignments and route configurations are compiled once and shared by every
 * proxy that gets them; each proxy's own listeners are compiled when it first asks.
 */
export function compileMesh(config: MeshConfig, options: CompileOptions): MeshSnapshot {
  const plan = new MeshPlan(config, options.trustDomain, options.httpFilters ?? []);
  // Route configurations are compiled now, so compile time is paid before the first proxy asks.
  for (const s of config.services) plan.outboundSet(s);
  const dynamic = options.endpoints ?? new Map<string, readonly Endpoint[]>();
  const loadAssignments = new Map<string, XdsResource>();
  for (const s of config.services) {
    loadAssignments.set(
      s.metadata.name,
      loadAssignment(plan, s, endpointsOf(s, dynamic.get(s.metadata.name))),
    );
  }
  return new CompiledSnapshot(
    plan,
    options.commit,
    options.endpointGeneration ?? 0,
    dynamic,
    loadAssignments,
  );
}

/**
 * The snapshot with a service's registered endpoints replaced: only that service's
 * ClusterLoadAssignment is re-encoded, everything else is shared; the version becomes
 * `<commit>.e<N+1>`.
 */
export function withEndpoints(
  snapshot: MeshSnapshot,
  serviceName: string,
  endpoints: readonly Endpoint[],
): MeshSnapshot {
  if (!(snapshot instanceof CompiledSnapshot)) {
    throw new TypeError('withEndpoints needs a snapshot made by compileMesh');
  }
  const service = snapshot.plan.services.get(serviceName);
  if (service === undefined) {
    throw new ParleyError(
      'not-found',
      `no Service named "${serviceName.slice(0, 64)}" in commit ${snapshot.commit}`,
    );
  }
  const dynamic = new Map(snapshot.dynamic);
  dynamic.set(serviceName, [...endpoints]);
  const loadAssignments = new Map(snapshot.loadAssignments);
  loadAssignments.set(
    serviceName,
    loadAssignment(snapshot.plan, service, endpointsOf(service, endpoints)),
  );
  return new CompiledSnapshot(
    snapshot.plan,
    snapshot.commit,
    snapshot.generation + 1,
    dynamic,
    loadAssignments,
  );
}
