import { type ProtoObject, XDS_TYPE_URL, anyToProto3Json } from '@parley/api';
import type { MeshSnapshot, ProxyNode } from './mesh-snapshot.js';

/** What one proxy gets, as proto3 JSON by resource kind (`parley mesh render`). */
export interface RenderedProxy {
  readonly version: string;
  readonly node: ProxyNode;
  readonly listeners: readonly ProtoObject[];
  readonly routes: readonly ProtoObject[];
  readonly clusters: readonly ProtoObject[];
  readonly endpoints: readonly ProtoObject[];
}

/** Decodes every resource a proxy would get from a snapshot, sorted by name within each kind. */
export function renderProxy(
  snapshot: MeshSnapshot,
  node: ProxyNode,
): { ok: true; rendered: RenderedProxy } | { ok: false; reason: string } {
  const result = snapshot.resourcesFor(node);
  if (!result.ok) return result;
  const kind = (typeUrl: string) =>
    [...(result.resources.get(typeUrl as never)?.values() ?? [])]
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
      .map((r) => anyToProto3Json(r.resource));
  return {
    ok: true,
    rendered: {
      version: snapshot.version,
      node,
      listeners: kind(XDS_TYPE_URL.listener),
      routes: kind(XDS_TYPE_URL.route),
      clusters: kind(XDS_TYPE_URL.cluster),
      endpoints: kind(XDS_TYPE_URL.endpoint),
    },
  };
}
