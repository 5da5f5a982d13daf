import type { AuditDetailValue, NewAuditEvent } from '@parley/store';
import type { AdminApiDeps } from './admin-api-deps.js';

/**
 * The audit event of an admin change, at the API's clock: module `identity`, the action (e.g.
 * `entry.create`), its subject and particulars — never a token or key (a hash or an ID instead).
 */
export function adminAuditEvent(
  deps: Pick<AdminApiDeps, 'clock'>,
  action: string,
  subject: string,
  detail: { readonly [key: string]: AuditDetailValue },
): NewAuditEvent {
  return {
    at: deps.clock.now(),
    module: 'identity',
    action,
    subject,
    detail: { via: 'admin-api', ...detail },
  };
}
