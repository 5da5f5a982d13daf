import { Duplex } from 'node:stream';

/** A request head longer than this is passed through untouched (Node refuses it: 431). */
const MAX_HEAD_BYTES = 16 * 1024;
const HEAD_END = Buffer.from('\r\n\r\n');
const LIST = Buffer.from('LIST ');

/** The connection each wrapped stream stands for (for its peer certificate). */
const underlying = new WeakMap<Duplex, Duplex>();

/** The connection (e.g. a TLSSocket) behind a stream made by `acceptListMethod`. */
export function underlyingSocket(stream: unknown): Duplex | undefined {
  return typeof stream === 'object' && stream !== null
    ? underlying.get(stream as Duplex)
    : undefined;
}

/** Whether `bytes` holds a line feed not preceded by a carriage return. */
function hasBareLf(bytes: Buffer): boolean {
  for (let i = bytes.indexOf(0x0a); i !== -1; i = bytes.indexOf(0x0a, i + 1)) {
    if (i === 0 || bytes[i - 1] !== 0x0d) return true;
  }
  return false;
}

/** What a request head says about the body after it: its length, or that it cannot be known. */
function bodyLength(head: string): number | undefined {
  let length: number | undefined;
  for (const line of head.split('\r\n').slice(1)) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (name === 'transfer-encoding' || name === 'upgrade') return undefined;
    if (name === 'content-length') {
      if (length !== undefined || !/^\d{1,15}$/.test(value)) return undefined;
      length = Number(value);
    }
  }
  return length ?? 0;
}

/** The head with `LIST target` turned into `GET target?list=true` (Vault defines them as one). */
function rewrite(head: Buffer): Buffer {
  if (!head.subarray(0, LIST.length).equals(LIST)) return head;
  const lineEnd = head.indexOf('\r\n');
  const line = head.subarray(0, lineEnd).toString('latin1');
  const m = /^LIST (\S+) (HTTP\/1\.[01])$/.exec(line);
  if (m === null) return head;
  const target = m[1] as string;
  const listed = `${target}${target.includes('?') ? '&' : '?'}list=true`;
  return Buffer.concat([Buffer.from(`GET ${listed} ${m[2]}`, 'latin1'), head.subarray(lineEnd)]);
}

/**
 * Wraps one HTTP/1.1 connection for a Node `http.Server` (`server.emit('connection', wrapped)`)
 * so that Vault's `LIST` method — which Node's parser refuses — arrives as `GET …?list=true`.
 * Only where a request certainly starts is anything rewritten: each head is found whole, its body
 * skipped by its one valid Content-Length; a head it cannot delimit with certainty (chunked,
 * Upgrade, several or invalid lengths, bare LF, oversized) switches the connection to plain
 * pass-through for good, leaving every decision to Node's own parser (no request smuggling).
 */
export function acceptListMethod(socket: Duplex): Duplex {
  let pending: Buffer = Buffer.alloc(0);
  let bodyLeft = 0;
  let passThrough = false;

  const transform = (chunk: Buffer): Buffer[] => {
    const out: Buffer[] = [];
    let data = chunk;
    while (data.length > 0) {
      if (passThrough) {
        out.push(data);
        break;
      }
      if (bodyLeft > 0) {
        const take = Math.min(bodyLeft, data.length);
        out.push(data.subarray(0, take));
        bodyLeft -= take;
        data = data.subarray(take);
        continue;
      }
      pending = pending.length === 0 ? data : Buffer.concat([pending, data]);
      data = Buffer.alloc(0);
      const end = pending.indexOf(HEAD_END);
      const scan = end === -1 ? pending : pending.subarray(0, end + 4);
      if (
        hasBareLf(scan) ||
        (end === -1 && pending.length > MAX_HEAD_BYTES) ||
        end > MAX_HEAD_BYTES
      ) {
        passThrough = true;
        out.push(pending);
        pending = Buffer.alloc(0);
        break;
      }
      if (end === -1) break;
      const head = pending.subarray(0, end + 4);
      data = pending.subarray(end + 4);
      pending = Buffer.alloc(0);
      const length = bodyLength(head.toString('latin1'));
      if (length === undefined) {
        passThrough = true;
        out.push(head);
      } else {
        out.push(rewrite(head));
        bodyLeft = length;
      }
    }
    return out;
  };

  const wrapped = new Duplex({
    read() {
      socket.resume();
    },
    write(chunk: Buffer, encoding, callback) {
      socket.write(chunk, encoding, callback);
    },
    // Chunks written while the HTTP server corks (a head and its body) leave as one write.
    writev(chunks, callback) {
      socket.cork();
      for (const [i, { chunk, encoding }] of chunks.entries()) {
        if (i === chunks.length - 1) socket.write(chunk, encoding, callback);
        else socket.write(chunk, encoding);
      }
      socket.uncork();
    },
    final(callback) {
      socket.end(callback);
    },
    destroy(err, callback) {
      socket.destroy(err ?? undefined);
      callback(err);
    },
  });
  socket.on('data', (chunk: Buffer) => {
    for (const part of transform(chunk)) if (!wrapped.push(part)) socket.pause();
  });
  socket.on('end', () => {
    if (pending.length > 0) wrapped.push(pending);
    wrapped.push(null);
  });
  socket.on('error', (err) => wrapped.destroy(err));
  socket.on('close', () => wrapped.destroy());
  socket.on('timeout', () => wrapped.emit('timeout'));
  // What Node's HTTP server calls on its connections, forwarded to the real one.
  const net = socket as Duplex & {
    setTimeout?(ms: number): unknown;
    setNoDelay?(on?: boolean): unknown;
    setKeepAlive?(on?: boolean, delay?: number): unknown;
    remoteAddress?: string;
    remotePort?: number;
  };
  Object.assign(wrapped, {
    setTimeout(ms: number, cb?: () => void) {
      net.setTimeout?.(ms);
      if (cb !== undefined) wrapped.once('timeout', cb);
      return wrapped;
    },
    setNoDelay(on?: boolean) {
      net.setNoDelay?.(on);
      return wrapped;
    },
    setKeepAlive(on?: boolean, delay?: number) {
      net.setKeepAlive?.(on, delay);
      return wrapped;
    },
    remoteAddress: net.remoteAddress,
    remotePort: net.remotePort,
  });
  underlying.set(wrapped, socket);
  return wrapped;
}
