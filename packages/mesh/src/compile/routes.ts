import type { ProtoObject } from '@parley/api';
import type {
  HeaderMutation,
  Route,
  RouteRule,
  Service,
  StringMatch,
  TrafficPolicy,
} from '../model/mesh-config.js';
import { egressSecretName } from '../model/read-route.js';
import { egressFilterName } from './filters.js';
import { TYPE, duration, fractionalPercent } from './xds-resource.js';

function stringMatcher(m: StringMatch): ProtoObject {
  if ('exact' in m) return { exact: m.exact };
  if ('prefix' in m) return { prefix: m.prefix };
  return { safe_regex: { regex: m.regex } };
}

function routeMatch(rule: RouteRule): ProtoObject {
  const { path, headers, method } = rule.match;
  const pathPart =
    path === undefined
      ? { prefix: '/' }
      : 'exact' in path
        ? { path: path.exact }
        : 'prefix' in path
          ? { prefix: path.prefix }
          : { safe_regex: { regex: path.regex } };
  const headerParts = headers.map((h) =>
    'present' in h
      ? { name: h.name, present_match: h.present }
      : { name: h.name, string_match: stringMatcher(h) },
  );
  if (method !== undefined) headerParts.push({ name: ':method', string_match: { exact: method } });
  return { ...pathPart, ...(headerParts.length > 0 && { headers: headerParts }) };
}

function mutation(m: HeaderMutation, side: 'request' | 'response'): ProtoObject {
  return {
    ...(m.add.length > 0 && {
      [`${side}_headers_to_add`]: m.add.map((a) => ({
        header: { key: a.name, value: a.value },
        append_action: a.append ? 'APPEND_IF_EXISTS_OR_ADD' : 'OVERWRITE_IF_EXISTS_OR_ADD',
      })),
    }),
    ...(m.remove.length > 0 && { [`${side}_headers_to_remove`]: [...m.remove] }),
  };
}

function hashPolicy(rule: RouteRule, policies: ReadonlyMap<string, TrafficPolicy>): ProtoObject {
  const headers = [
    ...new Set(
      rule.destinations.flatMap((d) => {
        const h = policies.get(d.service)?.loadBalancer.ringHash?.header;
        return h === undefined ? [] : [h];
      }),
    ),
  ].sort();
  return headers.length === 0
    ? {}
    : { hash_policy: headers.map((header_name) => ({ header: { header_name } })) };
}

function routeTarget(rule: RouteRule): ProtoObject {
  const [only, ...rest] = rule.destinations;
  return only !== undefined && rest.length === 0
    ? { cluster: only.service }
    : {
        weighted_clusters: {
          clusters: rule.destinations.map((d) => ({
            name: d.service,
            weight: { value: d.weight },
          })),
        },
      };
}

function routeAction(rule: RouteRule, policies: ReadonlyMap<string, TrafficPolicy>): ProtoObject {
  const { retries, mirror, rewrite } = rule;
  return {
    ...routeTarget(rule),
    ...(rule.timeout !== undefined && { timeout: duration(rule.timeout) }),
    ...(retries !== undefined && {
      retry_policy: {
        retry_on: retries.retryOn.join(','),
        num_retries: { value: retries.attempts },
        ...(retries.perTryTimeout !== undefined && {
          per_try_timeout: duration(retries.perTryTimeout),
        }),
      },
    }),
    ...(mirror !== undefined && {
      request_mirror_policies: [
        {
          cluster: mirror.service,
          runtime_fraction: { default_value: fractionalPercent(mirror.percentage) },
        },
      ],
    }),
    ...(rewrite?.prefix !== undefined && { prefix_rewrite: rewrite.prefix }),
    ...(rewrite?.host !== undefined && { host_rewrite_literal: rewrite.host }),
    ...hashPolicy(rule, policies),
  };
}

function faultConfig(rule: RouteRule): ProtoObject {
  const f = rule.fault;
  if (f === undefined) return {};
  return {
    typed_per_filter_config: {
      'envoy.filters.http.fault': {
        '@type': TYPE.fault,
        ...(f.delay !== undefined && {
          delay: {
            fixed_delay: duration(f.delay.fixedDelay),
            percentage: fractionalPercent(f.delay.percentage),
          },
        }),
        ...(f.abort !== undefined && {
          abort: {
            http_status: f.abort.httpStatus,
            percentage: fractionalPercent(f.abort.percentage),
          },
        }),
      },
    },
  };
}

/** The Envoy route of one rule, named `<host>/<rule name>` (the access log's `route`). */
export function ruleRoute(
  host: string,
  rule: RouteRule,
  policies: ReadonlyMap<string, TrafficPolicy>,
): ProtoObject {
  return {
    name: `${host}/${rule.name}`,
    match: routeMatch(rule),
    route: routeAction(rule, policies),
    ...faultConfig(rule),
    ...mutation(rule.requestHeaders, 'request'),
    ...mutation(rule.responseHeaders, 'response'),
  };
}

/** How a rule becomes a route: Envoy's full route, or the subset proxyless gRPC understands. */
type RuleRoute = (
  host: string,
  rule: RouteRule,
  policies: ReadonlyMap<string, TrafficPolicy>,
) => ProtoObject;

/**
 * The virtual host of a destination service: domains `name` and `name:port`, the rules of its
 * Route in order (as `toRoute` makes them), or one route to the service itself when it has none.
 */
function destinationHost(
  service: Service,
  route: Route | undefined,
  policies: ReadonlyMap<string, TrafficPolicy>,
  toRoute: RuleRoute,
): ProtoObject {
  const name = service.metadata.name;
  const policy = policies.get(name)?.loadBalancer.ringHash?.header;
  return {
    name,
    domains: [name, ...service.ports.map((p) => `${name}:${p.port}`)],
    routes:
      route === undefined
        ? [
            {
              name: `${name}/default`,
              match: { prefix: '/' },
              route: {
                cluster: name,
                ...(policy !== undefined && { hash_policy: [{ header: { header_name: policy } }] }),
              },
            },
          ]
        : route.rules.map((rule) => toRoute(name, rule, policies)),
  };
}

/**
 * The virtual host of a destination service for Envoy sidecars. Token egress: the proxy has one
 * credential injector per token its routes ask for (`secrets`); each host turns off every
 * injector but its own, so a request carries its destination's token and no other.
 */
export function virtualHost(
  service: Service,
  route: Route | undefined,
  policies: ReadonlyMap<string, TrafficPolicy>,
  secrets: readonly string[] = [],
): ProtoObject {
  const host = destinationHost(service, route, policies, ruleRoute);
  const own = route?.egress === undefined ? undefined : egressSecretName(route.egress);
  const off = secrets.filter((a) => a !== own);
  return off.length === 0
    ? host
    : {
        ...host,
        typed_per_filter_config: Object.fromEntries(
          off.map((a) => [egressFilterName(a), { '@type': TYPE.filterConfig, disabled: true }]),
        ),
      };
}

/** The SDS secrets of the token egress of the routes to `services`, sorted, each once. */
export function egressSecrets(
  services: readonly Service[],
  routes: ReadonlyMap<string, Route>,
): string[] {
  const secrets = services.flatMap((s) => {
    const egress = routes.get(s.metadata.name)?.egress;
    return egress === undefined ? [] : [egressSecretName(egress)];
  });
  return [...new Set(secrets)].sort();
}

/**
 * The outbound RouteConfiguration: one virtual host per destination service, sorted by name, and
 * with a default destination a last catch-all host (`*`) with that service's rules.
 */
export function outboundRouteConfiguration(
  name: string,
  services: readonly Service[],
  routes: ReadonlyMap<string, Route>,
  policies: ReadonlyMap<string, TrafficPolicy>,
  fallback?: Service,
): ProtoObject {
  const secrets = egressSecrets(services, routes);
  const hosts = services.map((s) => virtualHost(s, routes.get(s.metadata.name), policies, secrets));
  if (fallback !== undefined) {
    const host = virtualHost(fallback, routes.get(fallback.metadata.name), policies, secrets);
    hosts.push({ ...host, name: 'default', domains: ['*'] });
  }
  return { name, virtual_hosts: hosts };
}

/**
 * The route action of a rule for a proxyless gRPC client (gRFC A28, A31, A44): destinations,
 * the timeout as `max_stream_duration` (what gRPC reads; Envoy's `timeout` it ignores), retries
 * (gRPC honours the gRPC status names of `retry_on`) and ring-hash headers. Mirroring, rewrites
 * and header changes have no gRPC equivalent and are left out.
 */
function proxylessRouteAction(
  rule: RouteRule,
  policies: ReadonlyMap<string, TrafficPolicy>,
): ProtoObject {
  const { retries } = rule;
  return {
    ...routeTarget(rule),
    ...(rule.timeout !== undefined && {
      max_stream_duration: { max_stream_duration: duration(rule.timeout) },
    }),
    ...(retries !== undefined && {
      retry_policy: {
        retry_on: retries.retryOn.join(','),
        num_retries: { value: retries.attempts },
      },
    }),
    ...hashPolicy(rule, policies),
  };
}

/** The virtual host of a destination service as a proxyless gRPC client gets it. */
function proxylessVirtualHost(
  service: Service,
  route: Route | undefined,
  policies: ReadonlyMap<string, TrafficPolicy>,
): ProtoObject {
  return destinationHost(service, route, policies, (host, rule) => ({
    name: `${host}/${rule.name}`,
    match: routeMatch(rule),
    route: proxylessRouteAction(rule, policies),
    ...faultConfig(rule),
  }));
}

/**
 * The RouteConfiguration of proxyless gRPC clients: one virtual host per destination service
 * (domains `name` and `name:port`, which is what `xds:///name` resolves against), the same
 * matches and destinations as the sidecars' outbound routes, in the subset gRPC understands.
 */
export function proxylessRouteConfiguration(
  name: string,
  services: readonly Service[],
  routes: ReadonlyMap<string, Route>,
  policies: ReadonlyMap<string, TrafficPolicy>,
): ProtoObject {
  return {
    name,
    virtual_hosts: services.map((s) =>
      proxylessVirtualHost(s, routes.get(s.metadata.name), policies),
    ),
  };
}
