import { invalidArgument } from '../errors.js';

const DNS_LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/i;

/**
 * Checks a DNS name for a certificate's SAN (RFC 1035 labels of at most 63 characters, 253 in
 * all; a `*` wildcard only as the leftmost label of at least three) and returns it unchanged.
 */
export function checkDnsName(name: string): string {
  const labels = name.split('.');
  const ok =
    name.length <= 253 &&
    labels.every((l, i) => DNS_LABEL.test(l) || (i === 0 && l === '*' && labels.length > 2));
  if (!ok) throw invalidArgument(`invalid DNS name "${name.slice(0, 64)}"`);
  return name;
}
