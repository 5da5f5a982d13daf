import { type SpiffeId, checkedSpiffeId, spiffeIdProblem } from '../spiffe-id/spiffe-id.js';
import { type Certificate, KeyUsage } from './certificate.js';
import { Oid } from '../der/oids.js';

/** The outcome of checking a certificate against an SVID profile. */
export type ProfileResult = { ok: true; spiffeId: SpiffeId } | { ok: false; reason: string };

/** The one SPIFFE ID of a certificate (X509-SVID §2: exactly one URI SAN, and it must parse). */
export function certificateSpiffeId(cert: Certificate): ProfileResult {
  if (cert.uris.length === 0) return { ok: false, reason: 'certificate has no URI SAN' };
  if (cert.uris.length > 1)
    return { ok: false, reason: 'certificate has more than one URI SAN (X509-SVID §2)' };
  const uri = cert.uris[0] ?? '';
  const problem = spiffeIdProblem(uri);
  if (problem !== undefined)
    return { ok: false, reason: `certificate URI SAN is not a valid SPIFFE ID: ${problem}` };
  return { ok: true, spiffeId: checkedSpiffeId(uri) };
}

/**
 * Checks the leaf rules of X509-SVID §3.1, §4.1, §4.3 and §5.2: one SPIFFE ID with a non-root
 * path, `cA` false, key usage present and critical with `digitalSignature` and neither
 * `keyCertSign` nor `cRLSign`, and, when extended key usage is present, both serverAuth and
 * clientAuth (§4.4).
 */
export function checkLeafProfile(cert: Certificate): ProfileResult {
  const id = certificateSpiffeId(cert);
  if (!id.ok) return id;
  if (id.spiffeId.isRoot)
    return { ok: false, reason: 'leaf SPIFFE ID must have a non-root path (X509-SVID §3.1)' };
  if (cert.basicConstraints?.ca === true)
    return { ok: false, reason: 'leaf certificate must not have cA set to true (X509-SVID §4.1)' };
  const ku = cert.keyUsage;
  if (ku === undefined)
    return { ok: false, reason: 'leaf certificate has no key usage extension (X509-SVID §4.3)' };
  if (!ku.critical)
    return { ok: false, reason: 'leaf key usage extension must be critical (X509-SVID §4.3)' };
  if ((ku.bits & KeyUsage.digitalSignature) === 0) {
    return {
      ok: false,
      reason: "leaf certificate must have 'digitalSignature' set as key usage (X509-SVID §4.3)",
    };
  }
  if (ku.bits & KeyUsage.keyCertSign)
    return {
      ok: false,
      reason: "leaf certificate must not have 'keyCertSign' set as key usage (X509-SVID §4.3)",
    };
  if (ku.bits & KeyUsage.cRLSign)
    return {
      ok: false,
      reason: "leaf certificate must not have 'cRLSign' set as key usage (X509-SVID §4.3)",
    };
  const eku = cert.extKeyUsage;
  if (eku !== undefined && !(eku.includes(Oid.serverAuth) && eku.includes(Oid.clientAuth))) {
    return {
      ok: false,
      reason: 'leaf extended key usage must include serverAuth and clientAuth (X509-SVID §4.4)',
    };
  }
  return id;
}

/**
 * Checks a signing certificate Parley mints (X509-SVID §3.2, §4.1, §4.3): `cA` true,
 * `keyCertSign` set in a critical key usage, and a SPIFFE ID with no path when one is present.
 * Returns undefined when it conforms, else the reason.
 */
export function signingCertificateProblem(cert: Certificate): string | undefined {
  if (cert.basicConstraints?.ca !== true)
    return 'signing certificate must have cA set to true (X509-SVID §4.1)';
  const ku = cert.keyUsage;
  if (ku === undefined || !ku.critical)
    return 'signing certificate must have a critical key usage extension (X509-SVID §4.3)';
  if ((ku.bits & KeyUsage.keyCertSign) === 0)
    return "signing certificate must set 'keyCertSign' (X509-SVID §4.3)";
  if (cert.uris.length > 0) {
    const id = certificateSpiffeId(cert);
    if (!id.ok) return id.reason;
    if (!id.spiffeId.isRoot)
      return 'signing certificate SPIFFE ID must not have a path (X509-SVID §3.2)';
  }
  return undefined;
}
