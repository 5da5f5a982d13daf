// A proxyless gRPC client process for the proxyless test: grpc-js-xds with the bootstrap from
// GRPC_XDS_BOOTSTRAP_CONFIG dials `xds:///<target>` (argv[3]) with XdsChannelCredentials. Each
// stdin line is a JSON object of request headers; each answer is one stdout line, the reply or
// the error. It runs in its own process because grpc-js-xds keeps its xDS client and certificate
// watchers for the life of the process.
import { createInterface } from 'node:readline';
import { credentials } from '@grpc/grpc-js';
import { XdsChannelCredentials, register } from '@grpc/grpc-js-xds';
import { type GreeterClient, loadGreeter, sayHello } from './proxyless-greeter.js';

const [protoDir, target] = [process.argv[2], process.argv[3]];
if (protoDir === undefined || target === undefined) {
  process.stderr.write('usage: proxyless-client PROTO_DIR TARGET\n');
  process.exit(2);
}
register();
const Greeter = await loadGreeter(protoDir);
const client = new Greeter(
  target,
  new XdsChannelCredentials(credentials.createInsecure()),
) as unknown as GreeterClient;
for await (const line of createInterface({ input: process.stdin })) {
  const headers = JSON.parse(line) as Record<string, string>;
  try {
    const reply = await sayHello(client, headers, 3000);
    process.stdout.write(`${JSON.stringify({ service: reply.service })}\n`);
  } catch (err) {
    process.stdout.write(`${JSON.stringify({ error: (err as Error).message })}\n`);
  }
}
client.close();
process.exit(0);
