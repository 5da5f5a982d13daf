import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  findEdgePort,
  prepareStateDir,
  seedMeshRepo,
  upLayout,
  writeEdgePort,
} from './state-dir.js';

const EDGE = `# The public edge.
apiVersion: parley.dev/v1
kind: Service
metadata:
  name: front-end
spec:
  spiffeId: spiffe://example.org/front-end
  ports: [{ name: http, port: 80 }]
---
apiVersion: parley.dev/v1
kind: Service
metadata:
  name: edge
spec:
  spiffeId: spiffe://example.org/edge
  ports: [{ name: http, port: 80 }]
  sidecar:
    outboundPort: 8080 # the front-end URL
    defaultDestination: front-end
`;

describe('the state dir', () => {
  let dir: string;
  before(async () => (dir = await mkdtemp(join(tmpdir(), 'parley-state-'))));
  after(() => rm(dir, { recursive: true, force: true }));

  it('finds and rewrites the edge port in place, keeping comments', async () => {
    const seed = join(dir, 'seed');
    await mkdir(join(seed, 'services'), { recursive: true });
    await writeFile(join(seed, 'services', 'all.yaml'), EDGE);
    const location = await findEdgePort(seed, 'edge');
    assert.equal(location.port, 8080);
    await writeEdgePort(location, 41235);
    const text = await readFile(join(seed, 'services', 'all.yaml'), 'utf8');
    assert.equal(text, EDGE.replace('outboundPort: 8080', 'outboundPort: 41235'));
    await assert.rejects(findEdgePort(seed, 'gateway'), /no Service "gateway"/);
  });

  it('creates a 0700 dir and seeds the mesh repository once, in one commit', async () => {
    const layout = upLayout(join(dir, 'state'));
    assert.deepEqual(await prepareStateDir(layout), { fresh: true });
    assert.equal((await stat(layout.dir)).mode & 0o777, 0o700);
    const env = { ...process.env };
    assert.deepEqual(await seedMeshRepo(layout, undefined, env), { seeded: true });
    assert.match(await readFile(join(layout.meshRepo, 'mesh.yaml'), 'utf8'), /No services yet/);
    assert.deepEqual(await seedMeshRepo(layout, undefined, env), { seeded: false });
  });
});
