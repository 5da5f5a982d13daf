import { Client, type ClientDuplexStream, Metadata, credentials } from '@grpc/grpc-js';
import { type Bundle, type SpiffeId, encodePem } from '@parley/core';
import type { WorkloadX509Svid } from '../workload-api/workload-api-deps.js';
import type { XdsRelayUpstream } from './xds-relay-service.js';
import { type XdsRelayMethod, xdsRelayServiceDefinition } from './xds-relay-definition.js';

/** Where the relay forwards to: the server's ADS address and the identity it must present. */
export interface XdsRelayServer {
  /** `host:port` of the server's ADS listener (`mesh.xdsAddress`). */
  readonly address: string;
  /** The SPIFFE ID the server's certificate must carry (`spiffe://<td>/parley/server`). */
  readonly serverId: SpiffeId;
}

/**
 * The relay's upstream over gRPC: each relayed stream gets its own channel, with mTLS presenting
 * the workload's X509-SVID and trusting the bundle of the agent's trust domain, accepting only a
 * server whose certificate carries `server.serverId`; the channel closes when its stream ends.
 * One channel per stream means a rotated SVID is used by every stream opened after the rotation.
 */
export function grpcXdsRelayUpstream(server: XdsRelayServer): XdsRelayUpstream {
  const expected = `URI:${server.serverId.toString()}`;
  const definition = xdsRelayServiceDefinition();
  return {
    open(
      method: XdsRelayMethod,
      svid: WorkloadX509Svid,
      bundle: Bundle,
    ): ClientDuplexStream<Buffer, Buffer> {
      const roots = bundle.x509Authorities.map((c) => encodePem('CERTIFICATE', c.raw)).join('');
      const channel = credentials.createSsl(
        Buffer.from(roots),
        Buffer.from(encodePem('PRIVATE KEY', svid.privateKey)),
        Buffer.from(svid.certChain.map((c) => encodePem('CERTIFICATE', c)).join('')),
        {
          // The server is identified by its SPIFFE ID, not by a host name.
          checkServerIdentity: (_host, cert) =>
            cert.subjectaltname?.split(', ').includes(expected) === true
              ? undefined
              : new Error(`the xDS server did not present ${server.serverId.toString()}`),
        },
      );
      const client = new Client(server.address, channel, {
        // The server is authenticated; a large mesh's CDS response may exceed gRPC's 4 MiB.
        'grpc.max_receive_message_length': -1,
      });
      const def = definition[method];
      if (def === undefined) throw new TypeError(`ADS has no method ${method}`);
      const stream = client.makeBidiStreamRequest<Buffer, Buffer>(
        def.path,
        def.requestSerialize,
        def.responseDeserialize,
        new Metadata(),
      );
      stream.once('status', () => client.close());
      return stream;
    },
  };
}
