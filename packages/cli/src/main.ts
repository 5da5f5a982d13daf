#!/usr/bin/env node
// The `parley` binary's entry: the only file that touches `process`.
import { runCli } from './cli.js';

const stop = new AbortController();
for (const sig of ['SIGINT', 'SIGTERM'] as const)
  process.once(sig, () => stop.abort(new Error(sig)));

const code = await runCli(process.argv.slice(2), {
  signal: stop.signal,
  stdin: process.stdin,
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  env: process.env,
});
process.exitCode = code;
