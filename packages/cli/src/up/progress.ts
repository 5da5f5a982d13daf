import { relative } from 'node:path';
import type { UpEvent, UpSummary } from './run-up.js';

/** The `--dir` flag to repeat in suggested commands (none for the default `./.parley`). */
function dirFlag(summary: UpSummary, cwd: string): string {
  const rel = relative(cwd, summary.dir);
  return rel === '.parley'
    ? ''
    : ` --dir ${rel === '' || rel.startsWith('..') ? summary.dir : rel}`;
}

/** The text printed once every component is ready: where things are and what to try next. */
export function renderSummary(summary: UpSummary, cwd: string, detached: boolean): string {
  const dir = dirFlag(summary, cwd);
  const mesh = relative(cwd, summary.meshRepo).startsWith('..')
    ? summary.meshRepo
    : relative(cwd, summary.meshRepo);
  const lines = [
    '',
    `Parley is up (demo: ${summary.demo}; state in ${summary.dir}).`,
    ...(summary.frontEndUrl === undefined
      ? []
      : [`  front-end     ${summary.frontEndUrl}   <- open it in a browser`]),
    `  admin socket  ${summary.adminSocket}`,
    `  agent socket  ${summary.agentSocket}`,
    `  metrics       ${summary.metricsUrl}`,
    `  mesh config   ${mesh} (a Git repository: every commit changes the live mesh)`,
    ...summary.notes.map((n) => `  note          ${n}`),
    '',
    'Next, try:',
    `  npx parley status${dir}                       # components, pids, restarts, endpoints`,
    `  npx parley mesh status --socket ${summary.adminSocket}`,
    ...(summary.frontEndUrl === undefined
      ? [`  add a Service under ${mesh}/ and git -C ${mesh} commit -am "my service"`]
      : [
          `  edit ${mesh}/routes/catalogue.yaml (the catalogue v1/v2 canary weights), then`,
          `  git -C ${mesh} commit -am "catalogue canary 50/50"   # live within seconds`,
        ]),
    `  npx parley down${dir}`,
    detached ? '' : 'Press Ctrl-C to stop everything.',
    '',
  ];
  return lines.join('\n');
}

/**
 * A printer of `parley up` progress: one line per component state change (starting → ready,
 * restarting, failed with its reason and log), notes, then the summary or the failure.
 */
export function progressPrinter(
  write: (text: string) => void,
  cwd: string,
  detached: boolean,
): (event: UpEvent) => void {
  const last = new Map<string, string>();
  return (event) => {
    switch (event.type) {
      case 'note':
        write(`parley up: ${event.message}\n`);
        return;
      case 'component': {
        const c = event.component;
        // Starts given up because another component failed are not news.
        if (c.state === 'failed' && c.reason === 'stopped') return;
        const key = `${c.state}/${c.restarts}`;
        if (last.get(c.name) === key) return;
        last.set(c.name, key);
        const detail =
          c.state === 'failed'
            ? `: ${c.reason ?? 'failed'} (log: ${c.log})`
            : c.state === 'restarting'
              ? ` (${c.reason ?? 'exited'}; restarts so far: ${c.restarts}; log: ${c.log})`
              : c.pid === null
                ? ''
                : ` (pid ${c.pid})`;
        write(`  ${c.state.padEnd(10)} ${c.name}${detail}\n`);
        return;
      }
      case 'ready':
        write(renderSummary(event.summary, cwd, detached));
        return;
      case 'failed':
        write(
          `parley up: ${event.component} failed: ${event.reason}${event.log === '' ? '' : `; see ${event.log}`}\n`,
        );
        return;
      case 'stopped':
        write('parley up: stopped every component\n');
        return;
    }
  };
}
