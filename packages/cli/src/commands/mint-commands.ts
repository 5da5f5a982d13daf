import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  ParleyError,
  generateKey,
  keyObjectSigner,
  mintCertificateRequest,
  parseSpiffeId,
} from '@parley/core';
import type { JwtMintDto, X509MintDto } from '@parley/identity';
import { UsageError } from '../command.js';
import {
  ADMIN_FLAGS,
  connect,
  parseAdminFlags,
  flagValue,
  required,
  secondsFlag,
} from './admin-flags.js';
import { COMMON_USAGE, commandGroup } from './command-group.js';
import { outputFormat, renderData } from './output.js';

/**
 * `parley x509 mint --spiffe-id ID [--ttl D] [--dns NAME]… [--write DIR]`: an X509-SVID for the
 * admin. The key is generated here and never leaves this process except to stdout or `--write`;
 * the server signs a CSR.
 */
export const x509Command = commandGroup(
  'x509',
  'mint an X509-SVID: x509 mint --spiffe-id ID [--ttl D] [--dns NAME] [--write DIR]',
  `Usage: parley x509 mint --spiffe-id ID [--ttl D] [--dns NAME]… [--write DIR] [-o pem|json|yaml]

Mints an X509-SVID for the admin (default TTL 1h). The key is generated here; the server signs a
CSR. Prints the SVID chain, the private key and the bundle, or writes svid.pem, key.pem (0600)
and bundle.pem to DIR (created if missing).
${COMMON_USAGE}`,
  {
    mint: async (args, io) => {
      const { values } = parseAdminFlags(args, {
        ...ADMIN_FLAGS,
        'spiffe-id': { type: 'string' },
        ttl: { type: 'string' },
        dns: { type: 'string', multiple: true },
        write: { type: 'string' },
      });
      const format = outputFormat(values.output, ['pem', 'json', 'yaml'], 'pem');
      const spiffeId = required(values['spiffe-id'], 'spiffe-id', 'x509 mint');
      flagValue('spiffe-id', spiffeId, parseSpiffeId);
      const ttl = values.ttl === undefined ? undefined : secondsFlag('ttl', values.ttl, 1);
      const key = generateKey('ec-p256');
      const csr = await mintCertificateRequest(keyObjectSigner(key));
      const minted = await connect(values, io).post<X509MintDto>('/v1/x509/mint', {
        spiffeId,
        csr: Buffer.from(csr).toString('base64'),
        ...(ttl === undefined ? {} : { ttl }),
        ...(values.dns === undefined ? {} : { dnsNames: values.dns }),
      });
      const privateKey = key.export({ type: 'pkcs8', format: 'pem' }).toString();
      if (values.write !== undefined) {
        const dir = values.write;
        try {
          await mkdir(dir, { recursive: true, mode: 0o700 });
          await writeFile(join(dir, 'svid.pem'), minted.certChain, { mode: 0o644 });
          await writeFile(join(dir, 'key.pem'), privateKey, { mode: 0o600 });
          await writeFile(join(dir, 'bundle.pem'), minted.bundle, { mode: 0o644 });
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code ?? 'error';
          throw new ParleyError('unavailable', `cannot write the SVID to ${dir}: ${code}`);
        }
        io.stdout(
          `wrote ${join(dir, 'svid.pem')}, ${join(dir, 'key.pem')}, ${join(dir, 'bundle.pem')}\n`,
        );
        return 0;
      }
      io.stdout(
        format === 'pem'
          ? `X509-SVID:\n${minted.certChain}\nPrivate key:\n${privateKey}\nBundle:\n${minted.bundle}`
          : renderData(format, { ...minted, privateKey }),
      );
      return 0;
    },
  },
);

/**
 * `parley jwt mint --spiffe-id ID --audience A [--audience B]… [--ttl D]`: a JWT-SVID for the
 * admin; prints the token alone (`-o json|yaml` adds its expiry).
 */
export const jwtCommand = commandGroup(
  'jwt',
  'mint a JWT-SVID: jwt mint --spiffe-id ID --audience A [--ttl D]',
  `Usage: parley jwt mint --spiffe-id ID --audience A [--audience B]… [--ttl D] [-o table|json|yaml]

Mints a JWT-SVID for the admin (default TTL 5m) and prints the token alone (-o json|yaml adds its
expiry).
${COMMON_USAGE}`,
  {
    mint: async (args, io) => {
      const { values } = parseAdminFlags(args, {
        ...ADMIN_FLAGS,
        'spiffe-id': { type: 'string' },
        audience: { type: 'string', multiple: true },
        ttl: { type: 'string' },
      });
      const format = outputFormat(values.output, ['table', 'json', 'yaml'], 'table');
      const spiffeId = required(values['spiffe-id'], 'spiffe-id', 'jwt mint');
      flagValue('spiffe-id', spiffeId, parseSpiffeId);
      const audience = values.audience ?? [];
      if (audience.length === 0) throw new UsageError('jwt mint needs at least one --audience');
      const ttl = values.ttl === undefined ? undefined : secondsFlag('ttl', values.ttl, 1);
      const minted = await connect(values, io).post<JwtMintDto>('/v1/jwt/mint', {
        spiffeId,
        audience,
        ...(ttl === undefined ? {} : { ttl }),
      });
      io.stdout(format === 'table' ? `${minted.token}\n` : renderData(format, minted));
      return 0;
    },
  },
);
