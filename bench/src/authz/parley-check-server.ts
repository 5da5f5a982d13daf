// The Check benchmark's Parley target: a mesh config directory's AuthorizationPolicy documents
// (argv[2]) parsed by the mesh parser, built into an AuthzSnapshot and served by Parley's Check
// service (grpc-js) on 127.0.0.1 (port 0 unless argv[3] names one). Prints {"port": N} once it
// listens and serves until killed. Decisions are not logged (no onDecision), like OPA's defaults.
import { readFile, readdir } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { Server, ServerCredentials } from '@grpc/grpc-js';
import { loadXdsServices } from '@parley/api';
import { authzSnapshot, buildPolicySet, createCheckService } from '@parley/authz';
import { systemClock } from '@parley/core';
import { formatMeshProblem, parseMeshConfig } from '@parley/mesh';
import { listenCheckServer } from './listen-check-server.js';

const dir = process.argv[2];
if (dir === undefined) throw new Error('usage: parley-check-server.js MESH_DIR [PORT]');

const names = await readdir(dir, { recursive: true });
const files = await Promise.all(
  names
    .filter((n) => n.endsWith('.yaml'))
    .sort()
    .map(async (n) => ({
      path: relative(dir, join(dir, n)),
      text: await readFile(join(dir, n), 'utf8'),
    })),
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

const server = new Server();
server.addService(
  loadXdsServices().Authorization.service,
  createCheckService({ snapshot: () => snapshot, clock: systemClock }),
);
await listenCheckServer(server, process.argv[3], ServerCredentials.createInsecure());
