import {
  type ServerUnaryCall,
  type ServiceDefinition,
  type UntypedServiceImplementation,
  type sendUnaryData,
  status,
} from '@grpc/grpc-js';
import type { AgentManager, PeerNamedCall } from '@parley/agent';
import {
  POLICY_DISTRIBUTION_CHANNEL_OPTIONS,
  loadPolicyDistributionApi,
  loadXdsServices,
} from '@parley/api';
import { type AuthzSnapshot, createCheckService, watchPolicies } from '@parley/authz';
import type { Clock, Task } from '@parley/core';
import type { Log } from '../log.js';

/** The agent's embedded ext_authz service: its policy stream and the service it adds to sockets. */
export interface AgentAuthz {
  /** Follows the server's policy stream (reconnecting) until aborted. */
  readonly task: Task;
  /** The Check service for `serveAgentSocket`'s `extraServices`. */
  readonly services: (
    identities: (call: PeerNamedCall) => Promise<readonly string[]>,
  ) => readonly { definition: ServiceDefinition; implementation: UntypedServiceImplementation }[];
}

/**
 * The ext_authz decision service embedded in the agent (docs/authz.md): the policies come from the
 * server's authz listener over mTLS with the agent's SVID; `Check` is served on the agent sockets
 * to the sidecars there, each only about requests to an identity its attested caller holds (the
 * destination principal Envoy reports must be one of the caller's SVIDs). Without policies yet,
 * every request is denied.
 */
export function agentAuthz(
  config: { readonly serverAddress: string },
  deps: { readonly manager: AgentManager; readonly clock: Clock; readonly log: Log },
): AgentAuthz {
  let current: AuthzSnapshot | undefined;
  const api = loadPolicyDistributionApi();
  const check = createCheckService({ snapshot: () => current, clock: deps.clock });
  return {
    task: (signal) =>
      watchPolicies(
        () =>
          new api.Client(config.serverAddress, deps.manager.serverChannelCredentials(), {
            ...POLICY_DISTRIBUTION_CHANNEL_OPTIONS,
            'grpc.ssl_target_name_override': 'parley-server',
          }),
        {
          onSnapshot: (snapshot) => {
            current = snapshot;
            deps.log.info('authz policies', { version: snapshot.version });
          },
          signal,
          clock: deps.clock,
          log: (message, fields) => deps.log.warn(`authz: ${message}`, fields),
        },
      ),
    services: (identities) => [
      {
        definition: loadXdsServices().Authorization.service,
        implementation: {
          Check: (call: ServerUnaryCall<unknown, unknown>, callback: sendUnaryData<unknown>) => {
            const destination = (
              call.request as { attributes?: { destination?: { principal?: string } } }
            ).attributes?.destination?.principal;
            identities(call).then(
              (ids) => {
                if (destination === undefined || !ids.includes(destination)) {
                  callback({
                    code: status.PERMISSION_DENIED,
                    details: 'a sidecar may check only requests to an identity it holds',
                  });
                  return;
                }
                check.Check(call, callback);
              },
              () => callback({ code: status.UNAVAILABLE, details: 'workload attestation failed' }),
            );
          },
        },
      },
    ],
  };
}
