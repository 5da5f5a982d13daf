// The Check benchmark's limit: envoy.service.auth.v3.Authorization/Check with grpc-js and the same
// service definition as Parley's, answering OK at once without looking at the request. Listens on
// 127.0.0.1 (port 0 unless argv[2] names one), prints {"port": N} and serves until killed.
import { Server, ServerCredentials, type UntypedServiceImplementation } from '@grpc/grpc-js';
import { loadXdsServices } from '@parley/api';
import { listenCheckServer } from './listen-check-server.js';

const ok = { status: { code: 0 }, ok_response: {} };
const handlers: UntypedServiceImplementation = {
  Check: (_call: unknown, callback: (err: null, response: typeof ok) => void) => callback(null, ok),
};

const server = new Server();
server.addService(loadXdsServices().Authorization.service, handlers);
await listenCheckServer(server, process.argv[2], ServerCredentials.createInsecure());
