import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { connect as connectTls } from 'node:tls';
import { encodePem } from '@parley/core';
import { makeTestCa } from '@parley/testing';
import {
  type SecretsHttpListener,
  listenSecretsHttp,
  peerCertificateChain,
} from './secrets-listener.js';

/** Sends raw bytes on one connection and collects everything until the server closes it. */
function exchange(port: number, bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port }, () => socket.write(bytes));
    let text = '';
    socket.on('data', (c: Buffer) => (text += c.toString('latin1')));
    socket.on('end', () => resolve(text));
    socket.on('close', () => resolve(text));
    socket.on('error', reject);
  });
}

const statuses = (text: string) => [...text.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => m[1]);

describe('secrets listener', () => {
  let listener: SecretsHttpListener;
  let port = 0;
  const seen: string[] = [];

  before(async () => {
    listener = await listenSecretsHttp({
      address: '127.0.0.1:0',
      handler: (req, res) => {
        let body = '';
        req.on('data', (c: Buffer) => (body += c.toString()));
        req.on('end', () => {
          seen.push(`${req.method} ${req.url} ${body}`);
          res.writeHead(200, { 'content-length': 2 }).end('ok');
        });
      },
    });
    port = Number(listener.address.split(':')[1]);
  });
  after(() => listener.close());

  it('turns LIST into GET ?list=true, keeping bodies and pipelined requests apart', async () => {
    seen.length = 0;
    const text = await exchange(
      port,
      'POST /v1/a HTTP/1.1\r\nHost: x\r\nContent-Length: 19\r\n\r\nLIST /v1/b HTTP/1.1' +
        'LIST /v1/secret/metadata/app HTTP/1.1\r\nHost: x\r\n\r\n' +
        'LIST /v1/c?x=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
    );
    assert.deepEqual(statuses(text), ['200', '200', '200']);
    assert.deepEqual(seen, [
      'POST /v1/a LIST /v1/b HTTP/1.1',
      'GET /v1/secret/metadata/app?list=true ',
      'GET /v1/c?x=1&list=true ',
    ]);
  });

  it('stops rewriting after a body it cannot delimit (chunked): Node decides', async () => {
    seen.length = 0;
    const text = await exchange(
      port,
      'POST /v1/a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n' +
        'LIST /v1/b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
    );
    // Node refuses the LIST (and, pipelined behind it, may drop the earlier answer).
    assert.equal(statuses(text).at(-1), '400');
    assert.ok(!seen.some((r) => r.startsWith('GET')), seen.join());
  });

  it('leaves a request with both Content-Length and Transfer-Encoding to Node, which refuses it', async () => {
    seen.length = 0;
    const text = await exchange(
      port,
      'POST /v1/a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n' +
        'LIST /v1/b HTTP/1.1\r\nHost: x\r\n\r\n',
    );
    assert.deepEqual(statuses(text), ['400']);
    assert.deepEqual(seen, []);
  });

  it('passes an oversized head through, for Node to refuse', async () => {
    seen.length = 0;
    const text = await exchange(port, `LIST /v1/a HTTP/1.1\r\nX: ${'a'.repeat(20_000)}\r\n\r\n`);
    assert.deepEqual(statuses(text), ['400']);
    assert.deepEqual(seen, []);
  });
});

describe('secrets listener over TLS', () => {
  let listener: SecretsHttpListener;
  let port = 0;
  let clientCert: { der: Uint8Array; keyPem: string };
  let caPem = '';
  const chains: Buffer[][] = [];

  before(async () => {
    const ca = await makeTestCa();
    caPem = encodePem('CERTIFICATE', ca.root.raw);
    const server = await ca.mintSvid('spiffe://example.org/parley/server');
    const client = await ca.mintSvid('spiffe://example.org/app');
    clientCert = {
      der: client.der,
      keyPem: client.key.export({ type: 'pkcs8', format: 'pem' }) as string,
    };
    listener = await listenSecretsHttp({
      address: '127.0.0.1:0',
      tls: {
        cert: encodePem('CERTIFICATE', server.der),
        key: server.key.export({ type: 'pkcs8', format: 'pem' }),
        ca: caPem,
      },
      handler: (req, res) => {
        chains.push(peerCertificateChain(req));
        res.writeHead(200, { 'content-length': 2 }).end('ok');
      },
    });
    port = Number(listener.address.split(':')[1]);
  });
  after(() => listener.close());

  /** One TLS exchange (optionally with the client certificate); the server's answer. */
  function exchangeTls(withCert: boolean, bytes: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const socket = connectTls(
        {
          host: '127.0.0.1',
          port,
          ca: caPem,
          checkServerIdentity: () => undefined,
          ...(withCert
            ? { cert: encodePem('CERTIFICATE', clientCert.der), key: clientCert.keyPem }
            : {}),
        },
        () => socket.write(bytes),
      );
      let text = '';
      socket.on('data', (c: Buffer) => (text += c.toString('latin1')));
      socket.on('close', () => resolve(text));
      socket.on('error', reject);
    });
  }

  it('gives the handler the client certificate (leaf first) and LIST as GET', async () => {
    chains.length = 0;
    const text = await exchangeTls(
      true,
      'LIST /v1/secret/metadata/ HTTP/1.1\r\nHost: x\r\n\r\n' +
        'GET /v1/x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
    );
    assert.deepEqual(statuses(text), ['200', '200']);
    assert.equal(chains.length, 2);
    for (const chain of chains) {
      assert.ok(chain.length > 0);
      assert.ok(Buffer.from(clientCert.der).equals(chain[0] as Buffer));
    }
  });

  it('gives an empty chain when the client presents no certificate', async () => {
    chains.length = 0;
    const text = await exchangeTls(
      false,
      'GET /v1/x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
    );
    assert.deepEqual(statuses(text), ['200']);
    assert.deepEqual(chains, [[]]);
  });

  it('close() ends open keep-alive connections', async () => {
    const other = await listenSecretsHttp({
      address: '127.0.0.1:0',
      handler: (_req, res) => res.writeHead(200, { 'content-length': 2 }).end('ok'),
    });
    const socket = connect({ host: '127.0.0.1', port: Number(other.address.split(':')[1]) });
    const closed = new Promise((resolve) => socket.on('close', resolve));
    socket.on('error', () => undefined);
    socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await new Promise((resolve) => socket.once('data', resolve));
    await other.close();
    await closed;
  });
});

describe('node-vault through the listener', () => {
  it('list() reaches the handler as GET ?list=true', async (t) => {
    const specifier = 'node-vault';
    let NodeVault: (options: object) => { list(path: string): Promise<unknown> };
    try {
      NodeVault = ((await import(specifier)) as { default: typeof NodeVault }).default;
    } catch {
      t.skip('node-vault is not installed');
      return;
    }
    const seen: string[] = [];
    const listener = await listenSecretsHttp({
      address: '127.0.0.1:0',
      handler: (req, res) => {
        seen.push(`${req.method} ${req.url}`);
        const body = JSON.stringify({ data: { keys: ['a', 'b/'] } });
        res.writeHead(200, { 'content-type': 'application/json' }).end(body);
      },
    });
    try {
      const vault = NodeVault({ endpoint: `http://${listener.address}`, token: 'x' });
      const answer = (await vault.list('secret/metadata/app')) as { data: { keys: string[] } };
      assert.deepEqual(answer.data.keys, ['a', 'b/']);
      assert.deepEqual(seen, ['GET /v1/secret/metadata/app?list=true']);
    } finally {
      await listener.close();
    }
  });
});
