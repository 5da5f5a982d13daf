import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { XDS_TYPE_URL, checkMessage, decodeAny, encodeAny, loadXdsServices } from './xds-protos.js';

describe('xDS protos', () => {
  const cluster = {
    name: 'backend',
    type: 'STATIC',
    connect_timeout: { seconds: 1, nanos: 0 },
    load_assignment: {
      cluster_name: 'backend',
      endpoints: [
        {
          lb_endpoints: [
            {
              endpoint: {
                address: { socket_address: { address: '127.0.0.1', port_value: 8080 } },
              },
            },
          ],
        },
      ],
    },
    transport_socket: {
      name: 'envoy.transport_sockets.tls',
      typed_config: {
        '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
        sni: 'backend',
      },
    },
  };

  it('encodes a valid resource and decodes it back', () => {
    const any = encodeAny(XDS_TYPE_URL.cluster, cluster);
    const back = decodeAny(any) as {
      name: string;
      transport_socket: { typed_config: { sni: string } };
    };
    assert.equal(back.name, 'backend');
    assert.equal(back.transport_socket.typed_config.sni, 'backend');
  });

  it('reports unknown fields, bad enums and bad Any types with their paths', () => {
    const bad = {
      ...cluster,
      typo_field: 1,
      type: 'NOT_A_TYPE',
      transport_socket: { name: 'x', typed_config: { '@type': 'type.googleapis.com/nope.Nope' } },
    };
    const problems = checkMessage('envoy.config.cluster.v3.Cluster', bad);
    assert.ok(
      problems.some((p) => p.startsWith('envoy.config.cluster.v3.Cluster.typo_field')),
      problems.join(),
    );
    assert.ok(problems.some((p) => p.includes('NOT_A_TYPE')));
    assert.ok(problems.some((p) => p.includes('nope.Nope')));
    assert.throws(() => encodeAny(XDS_TYPE_URL.cluster, bad), /does not match its schema/);
  });

  it('checks fields inside an Any against the named type', () => {
    const problems = checkMessage('envoy.config.cluster.v3.Cluster', {
      transport_socket: {
        name: 'tls',
        typed_config: {
          '@type':
            'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
          snii: 'x',
        },
      },
    });
    assert.equal(problems.length, 1);
    assert.match(problems[0] ?? '', /snii: no such field/);
  });

  it('loads the ADS and SDS services', () => {
    const services = loadXdsServices();
    assert.ok('StreamAggregatedResources' in services.AggregatedDiscoveryService.service);
    assert.ok('DeltaAggregatedResources' in services.AggregatedDiscoveryService.service);
    assert.ok('StreamSecrets' in services.SecretDiscoveryService.service);
    assert.ok('FetchSecrets' in services.SecretDiscoveryService.service);
  });
});
