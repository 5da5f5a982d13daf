// The baseline of bench:secrets: Node's HTTPS server with the same TLS set-up as Parley's secrets
// listener (client certificate requested, keep-alive HTTP/1.1) answering every request at once
// with a Vault-shaped body of the same size — the most this runtime serves on this machine.
// Usage: node noop-https-server.js PORT CERT KEY CA BODY_FILE
import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';

const [port = '0', cert = '', key = '', ca = '', bodyFile = ''] = process.argv.slice(2);
const body = readFileSync(bodyFile);
createServer(
  {
    cert: readFileSync(cert),
    key: readFileSync(key),
    ca: readFileSync(ca),
    requestCert: true,
    rejectUnauthorized: false,
    minVersion: 'TLSv1.2',
    keepAliveTimeout: 5000,
  },
  (req, res) => {
    req.resume();
    req.on('end', () =>
      res
        .writeHead(200, { 'content-type': 'application/json', 'content-length': body.length })
        .end(body),
    );
  },
).listen(Number(port), '127.0.0.1');
