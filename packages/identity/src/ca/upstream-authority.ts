import { X509Certificate, createPrivateKey, createPublicKey } from 'node:crypto';
import { open } from 'node:fs/promises';
import {
  type Certificate,
  type Clock,
  type Signer,
  certificatePublicKey,
  decodePem,
  invalidArgument,
  keyObjectSigner,
  keyTypeOf,
  parseCertificate,
  signingCertificateProblem,
} from '@parley/core';

/**
 * An upstream authority the server's CA is an intermediate under: its signer, and its certificate
 * chain from its own certificate up to and including the root the bundle publishes.
 */
export interface UpstreamAuthority {
  readonly signer: Signer;
  /** The upstream signing certificate first, its root last (one certificate when it is the root). */
  readonly chain: readonly Certificate[];
  /** The upstream signing certificate's subject key ID, lowercase hex. */
  readonly id: string;
}

/** Where the upstream authority's files are (PEM). */
export interface UpstreamAuthorityFiles {
  /** The upstream signing key: PKCS#8, SEC1 or PKCS#1 PEM. */
  readonly keyFile: string;
  /** The upstream signing certificate first, then any intermediates, ending with the root. */
  readonly certChainFile: string;
}

const MAX_FILE_BYTES = 1 << 20;

async function readSmallFile(path: string, what: string): Promise<string> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    throw invalidArgument(
      `cannot read upstream authority ${what} ${path}: ${(error as Error).message}`,
    );
  }
  try {
    const info = await handle.stat();
    if (!info.isFile()) throw invalidArgument(`upstream authority ${what} ${path} is not a file`);
    if (info.size > MAX_FILE_BYTES)
      throw invalidArgument(`upstream authority ${what} ${path} exceeds ${MAX_FILE_BYTES} bytes`);
    return await handle.readFile('utf8');
  } finally {
    await handle.close();
  }
}

function hex(bytes: Uint8Array | undefined): string {
  return bytes === undefined ? '' : Buffer.from(bytes).toString('hex');
}

function signedBy(child: Certificate, parent: Certificate): boolean {
  try {
    return new X509Certificate(Buffer.from(child.raw)).verify(certificatePublicKey(parent));
  } catch {
    return false;
  }
}

/**
 * Builds an upstream authority from a private key and its certificate chain (PEM), checking that
 * the key matches the first certificate, that it may sign CA certificates, that each certificate
 * is signed by the next, that the chain ends with a self-signed root, and that the signing
 * certificate is valid now. Messages name the file, never the key.
 */
export function parseUpstreamAuthority(
  keyPem: string,
  certChainPem: string,
  clock: Clock,
  names: UpstreamAuthorityFiles = { keyFile: 'key', certChainFile: 'certificate chain' },
): UpstreamAuthority {
  const bad = (file: string, why: string) => invalidArgument(`upstream authority ${file}: ${why}`);
  let privateKey;
  try {
    const blocks = decodePem(keyPem).filter((b) => /PRIVATE KEY$/.test(b.label));
    if (blocks.length !== 1) throw new Error('one PEM private key expected');
    privateKey = createPrivateKey(keyPem);
  } catch {
    // The parser's message may quote the input: it is not passed on.
    throw bad(names.keyFile, 'expected exactly one PEM private key (PKCS#8, SEC1 or PKCS#1)');
  }
  if (keyTypeOf(privateKey) === undefined)
    throw bad(names.keyFile, 'unsupported key type (use ec-p256, ec-p384, rsa-2048 or rsa-4096)');

  let ders: Uint8Array[];
  try {
    ders = decodePem(certChainPem)
      .filter((b) => b.label === 'CERTIFICATE')
      .map((b) => b.der);
  } catch (error) {
    throw bad(names.certChainFile, (error as Error).message);
  }
  if (ders.length === 0) throw bad(names.certChainFile, 'no CERTIFICATE block found');
  const chain = ders.map((der, i) => {
    try {
      return parseCertificate(der);
    } catch (error) {
      throw bad(names.certChainFile, `certificate ${i}: ${(error as Error).message}`);
    }
  });
  const signing = chain[0] as Certificate;
  if (!certificatePublicKey(signing).equals(createPublicKey(privateKey)))
    throw bad(names.keyFile, `does not match the first certificate of ${names.certChainFile}`);
  const problem = signingCertificateProblem(signing);
  if (problem !== undefined)
    throw bad(names.certChainFile, `cannot sign CA certificates: ${problem}`);
  if (signing.subjectKeyId === undefined)
    throw bad(names.certChainFile, 'the signing certificate has no subject key identifier');
  for (let i = 0; i + 1 < chain.length; i++) {
    const child = chain[i] as Certificate;
    const parent = chain[i + 1] as Certificate;
    if (Buffer.compare(child.issuer, parent.subject) !== 0 || !signedBy(child, parent))
      throw bad(names.certChainFile, `certificate ${i} is not signed by certificate ${i + 1}`);
    if (parent.basicConstraints?.ca !== true)
      throw bad(names.certChainFile, `certificate ${i + 1} is not a CA`);
  }
  const root = chain[chain.length - 1] as Certificate;
  if (Buffer.compare(root.issuer, root.subject) !== 0 || !signedBy(root, root))
    throw bad(names.certChainFile, 'the chain must end with the self-signed root certificate');
  const now = clock.now();
  for (const [i, cert] of chain.entries()) {
    if (now < cert.notBefore) throw bad(names.certChainFile, `certificate ${i} is not yet valid`);
    if (now >= cert.notAfter) throw bad(names.certChainFile, `certificate ${i} has expired`);
  }
  return {
    signer: keyObjectSigner(privateKey, { threadpool: true }),
    chain,
    id: hex(signing.subjectKeyId),
  };
}

/** Loads an upstream authority from its key file and certificate chain file (PEM). */
export async function loadUpstreamAuthority(
  files: UpstreamAuthorityFiles,
  clock: Clock,
): Promise<UpstreamAuthority> {
  const keyPem = await readSmallFile(files.keyFile, 'key file');
  const chainPem = await readSmallFile(files.certChainFile, 'certificate chain file');
  return parseUpstreamAuthority(keyPem, chainPem, clock, files);
}
