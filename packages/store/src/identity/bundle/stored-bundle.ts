import { ParleyError, formatBundle, parseBundle } from '@parley/core';
import type { Bundle } from '@parley/core';
import { storedTrustDomain } from '../stored-value.js';

/** A row of `bundles`. */
export interface BundleRow {
  readonly trust_domain: string;
  readonly document: string;
  readonly sequence_number: number;
}

/**
 * The stored document of a bundle: `formatBundle` of it without its sequence number, which lives
 * in its own column (so that setting the same keys again is recognised as no change).
 */
export function bundleDocument(bundle: Bundle): string {
  const { sequenceNumber: _sequence, ...rest } = bundle;
  return formatBundle(rest);
}

/** Parses a stored bundle with `parseBundle`; its sequence number is the row's. */
export function bundleFromRow(row: BundleRow): Bundle {
  const td = storedTrustDomain(row.trust_domain, 'a bundle');
  try {
    return { ...parseBundle(td, row.document), sequenceNumber: BigInt(row.sequence_number) };
  } catch (error) {
    throw new ParleyError('internal', `stored bundle of ${td.name} does not parse`, {
      cause: error,
    });
  }
}
