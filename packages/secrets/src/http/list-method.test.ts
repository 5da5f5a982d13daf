import assert from 'node:assert/strict';
import { type Server as HttpServer, createServer as createHttpServer } from 'node:http';
import { type AddressInfo, type Server, type Socket, connect, createServer } from 'node:net';
import { after, before, beforeEach, describe, it } from 'node:test';
import { acceptListMethod } from './list-method.js';

/** One raw client connection: write bytes, wait for N answers. */
class RawClient {
  private text = '';
  private readonly socket: Socket;
  private waiters: (() => void)[] = [];
  closed = false;

  constructor(port: number) {
    this.socket = connect({ host: '127.0.0.1', port });
    this.socket.on('data', (c: Buffer) => {
      this.text += c.toString('latin1');
      for (const w of this.waiters.splice(0)) w();
    });
    this.socket.on('close', () => {
      this.closed = true;
      for (const w of this.waiters.splice(0)) w();
    });
  }

  write(bytes: string): void {
    this.socket.write(bytes);
  }

  /** Resolves with every status line seen once `count` answers (or the close) arrived. */
  async statuses(count: number): Promise<string[]> {
    for (;;) {
      const found = [...this.text.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => m[1] as string);
      if (found.length >= count || this.closed) return found;
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  destroy(): void {
    this.socket.destroy();
  }
}

describe('acceptListMethod', () => {
  let net: Server;
  let http: HttpServer;
  let port = 0;
  const seen: string[] = [];

  before(async () => {
    http = createHttpServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        seen.push(`${req.method} ${req.url} ${body}`);
        res.writeHead(200, { 'content-length': 2 }).end('ok');
      });
    });
    net = createServer((socket) => http.emit('connection', acceptListMethod(socket)));
    await new Promise<void>((resolve) => net.listen(0, '127.0.0.1', resolve));
    port = (net.address() as AddressInfo).port;
  });
  after(async () => {
    http.closeAllConnections();
    await new Promise<void>((resolve) => net.close(() => resolve()));
  });
  beforeEach(() => {
    seen.length = 0;
  });

  it('rewrites LIST to GET ?list=true, keeping the HTTP version', async () => {
    const c = new RawClient(port);
    c.write('LIST /v1/secret/metadata/app HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.deepEqual(await c.statuses(1), ['200']);
    c.write('LIST /v1/secret/metadata/app?x=1 HTTP/1.0\r\nHost: x\r\n\r\n');
    assert.deepEqual(await c.statuses(2), ['200', '200']);
    c.destroy();
    assert.deepEqual(seen, [
      'GET /v1/secret/metadata/app?list=true ',
      'GET /v1/secret/metadata/app?x=1&list=true ',
    ]);
  });

  it('finds the next request after a GET and a POST with a body on a keep-alive connection', async () => {
    const c = new RawClient(port);
    c.write('GET /v1/a HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.deepEqual(await c.statuses(1), ['200']);
    const body = 'LIST /v1/z HTTP/1.1\r\n\r\n\r\n';
    c.write(`POST /v1/b HTTP/1.1\r\nHost: x\r\nContent-Length: ${body.length}\r\n\r\n`);
    // The body arrives in a later packet and looks like a LIST request: never rewritten.
    await new Promise((resolve) => setTimeout(resolve, 20));
    c.write(body);
    assert.deepEqual(await c.statuses(2), ['200', '200']);
    c.write('LIST /v1/c HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.deepEqual(await c.statuses(3), ['200', '200', '200']);
    c.destroy();
    assert.deepEqual(seen, [
      'GET /v1/a ',
      'POST /v1/b LIST /v1/z HTTP/1.1\r\n\r\n\r\n',
      'GET /v1/c?list=true ',
    ]);
  });

  it('handles pipelined requests split at any byte', async () => {
    const bytes =
      'LIST /v1/a HTTP/1.1\r\nHost: x\r\n\r\n' +
      'PUT /v1/b HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello' +
      'LIST /v1/c HTTP/1.1\r\nHost: x\r\n\r\n';
    const c = new RawClient(port);
    for (const ch of bytes) c.write(ch);
    assert.deepEqual(await c.statuses(3), ['200', '200', '200']);
    c.destroy();
    assert.deepEqual(seen, ['GET /v1/a?list=true ', 'PUT /v1/b hello', 'GET /v1/c?list=true ']);
  });

  it('never rewrites after a chunked request: the chunked one works, the LIST gets 400', async () => {
    const c = new RawClient(port);
    c.write(
      'POST /v1/a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n',
    );
    assert.deepEqual(await c.statuses(1), ['200']);
    c.write('LIST /v1/b HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.deepEqual(await c.statuses(2), ['200', '400']);
    c.destroy();
    assert.deepEqual(seen, ['POST /v1/a abc']);
  });

  it('passes through for good after several Content-Length headers', async () => {
    const c = new RawClient(port);
    c.write('POST /v1/a HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx');
    c.write('LIST /v1/b HTTP/1.1\r\nHost: x\r\n\r\n');
    const statuses = await c.statuses(1);
    c.destroy();
    assert.deepEqual(statuses, ['400']);
    assert.deepEqual(seen, []);
  });
});
