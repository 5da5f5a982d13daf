import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { type SecretsHttpListener, listenSecretsHttp } from './secrets-listener.js';

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
