import type { ServerReadableStream, sendUnaryData } from '@grpc/grpc-js';
import { status } from '@grpc/grpc-js';
import type { Clock } from '@parley/core';
import type { DecisionRecord } from '../model/decision-record.js';
import { type AccessLogContext, decisionFromAccessLog } from './access-log-decision.js';

/** What the decision log service needs from its composer. */
export interface DecisionLogDeps {
  /** The SPIFFE ID of a verified sidecar certificate, or undefined when it is not one. */
  readonly authenticate: (rawCertificate: Buffer) => string | undefined;
  /** What is known of the workload whose sidecar logs (all but the time). */
  readonly context: (spiffeId: string) => Omit<AccessLogContext, 'now' | 'destination'>;
  readonly clock: Clock;
  /** Receives the records of each message (the composer batches them into the audit chain). */
  readonly record: (records: readonly DecisionRecord[]) => void;
}

/** Entries per message beyond which a message is refused (Envoy flushes far fewer). */
const MAX_ENTRIES = 10_000;

/**
 * Envoy's gRPC access log service (`envoy.service.accesslog.v3.AccessLogService`) as the decision
 * log: each sidecar streams its inbound access log; the stream is bound to the sidecar's verified
 * certificate (a `node.id` naming another workload ends it), and each entry that is a decision
 * to record becomes a DecisionRecord.
 */
export function createDecisionLogService(deps: DecisionLogDeps) {
  return {
    StreamAccessLogs(call: ServerReadableStream<unknown, unknown>, done: sendUnaryData<unknown>) {
      const raw = call.getAuthContext().sslPeerCertificate?.raw;
      const id = raw === undefined ? undefined : deps.authenticate(raw);
      let finished = false;
      const finish = (code: status | undefined, details = '') => {
        if (finished) return;
        finished = true;
        if (code === undefined) done(null, {});
        else done({ code, details, name: 'decision log', message: details }, null);
      };
      if (id === undefined) {
        finish(status.UNAUTHENTICATED, 'a sidecar SVID (TLS client certificate) is required');
        return;
      }
      const base = deps.context(id);
      call.on('data', (message: unknown) => {
        if (finished) return;
        const m = message as {
          identifier?: { node?: { id?: string } };
          http_logs?: { log_entry?: unknown[] };
        };
        const node = m.identifier?.node?.id;
        if (node !== undefined && node !== '' && node !== id) {
          finish(status.PERMISSION_DENIED, 'node.id is not the SPIFFE ID of the certificate');
          call.destroy();
          return;
        }
        const entries = m.http_logs?.log_entry ?? [];
        if (entries.length > MAX_ENTRIES) {
          finish(status.RESOURCE_EXHAUSTED, `more than ${MAX_ENTRIES} entries in one message`);
          call.destroy();
          return;
        }
        const now = deps.clock.now();
        const records = entries.flatMap((entry) => {
          const r = decisionFromAccessLog(entry, { ...base, destination: id, now });
          return r === undefined ? [] : [r];
        });
        if (records.length > 0) deps.record(records);
      });
      call.on('end', () => finish(undefined));
      call.on('error', () => finish(status.CANCELLED, 'stream failed'));
    },
  };
}
