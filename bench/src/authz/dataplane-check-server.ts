// The data-path benchmark's ext_authz service: a mesh config directory's policies (argv[2]) parsed
// by the mesh parser, built into an AuthzSnapshot and served by Parley's Check service on a grpc-js
// server, either as the Parley server does (argv[3] `tls`: 127.0.0.1, port 0, mTLS with the SVID,
// key and bundle PEM files argv[4..6], client certificates required) or as the agent embeds it
// (argv[3] `unix:/PATH`: plain HTTP/2 on a Unix socket). Prints {"port": N} (0 on a socket) once it
// listens and serves until SIGTERM. Decisions are not logged (no onDecision), as in both of
// Parley's Check servers, whose decision log comes from Envoy's access log.
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { loadXdsServices } from '@parley/api';
import { authzSnapshot, buildPolicySet, createCheckService } from '@parley/authz';
import { systemClock } from '@parley/core';
import { formatMeshProblem, parseMeshConfig } from '@parley/mesh';

const [dir, listen, certFile, keyFile, caFile] = process.argv.slice(2);
if (
  dir === undefined ||
  listen === undefined ||
  (listen !== 'tls' && !listen.startsWith('unix:'))
) {
  throw new Error('usage: dataplane-check-server.js MESH_DIR (tls CERT KEY CA | unix:/PATH)');
}

const names = (await readdir(dir, { recursive: true })).filter((n) => n.endsWith('.yaml')).sort();
const files = await Promise.all(
  names.map(async (path) => ({ path, text: await readFile(join(dir, path), 'utf8') })),
);
const parsed = parseMeshConfig(files);
if (!parsed.ok) throw new Error(parsed.problems.map(formatMeshProblem).join('\n'));
const { config } = parsed;
const snapshot = authzSnapshot(
  'bench',
  buildPolicySet(config.authorizationPolicies),
  config.services.map((s) => ({
    service: s.metadata.name,
    spiffeId: s.spiffeId.toString(),
    ports: s.ports.map((p) => p.port),
    attributes: s.attributes,
  })),
);

let credentials: ServerCredentials;
if (listen === 'tls') {
  if (certFile === undefined || keyFile === undefined || caFile === undefined) {
    throw new Error('tls needs the SVID, key and bundle PEM files');
  }
  const [cert, key, ca] = await Promise.all([certFile, keyFile, caFile].map((f) => readFile(f)));
  credentials = ServerCredentials.createSsl(
    ca ?? null,
    [{ cert_chain: cert as Buffer, private_key: key as Buffer }],
    true,
  );
} else {
  credentials = ServerCredentials.createInsecure();
}

const server = new Server();
server.addService(
  loadXdsServices().Authorization.service,
  createCheckService({ snapshot: () => snapshot, clock: systemClock }),
);
const port = await new Promise<number>((resolve, reject) =>
  server.bindAsync(listen === 'tls' ? '127.0.0.1:0' : listen, credentials, (err, p) =>
    err ? reject(err) : resolve(p),
  ),
);
process.once('SIGTERM', () => {
  server.forceShutdown();
  process.exit(0);
});
process.stdout.write(JSON.stringify({ port }) + '\n');
