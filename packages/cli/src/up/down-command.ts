import { resolve } from 'node:path';
import { ParleyError } from '@parley/core';
import type { Command } from '../command.js';
import { parseFlags } from '../flags.js';
import { isAlive } from './probes.js';
import { upLayout } from './state-dir.js';
import { stopUp } from './stop-up.js';
import { DEFAULT_UP_DIR, readUpState } from './up-state.js';

/** `parley down [--dir DIR]`: stops the `parley up` running in DIR. */
export const downCommand: Command = {
  summary: 'stop the local mesh that parley up runs in --dir (default ./.parley)',
  usage: `Usage: parley down [--dir DIR]

Stops the parley up running in DIR (default ./.parley): signals its supervisor, which stops every
component in reverse order, waits for it, then checks that no component is left (killing any
that outlived the supervisor) and removes the sockets and DIR/up.json. The state itself (server
data, mesh repository, logs) is kept for the next parley up. Nothing running is not an error.
Exit codes: 0 success, 1 failed, 2 usage error.
`,
  run: async (args, io) => {
    const { values } = parseFlags(args, { dir: { type: 'string' } });
    const dir = resolve(values.dir ?? DEFAULT_UP_DIR);
    const state = await readUpState(dir);
    if (state === undefined) {
      io.stderr(`parley: nothing is running in ${dir}\n`);
      return 0;
    }
    const wasRunning = isAlive(state.supervisorPid);
    const result = await stopUp(state, upLayout(dir));
    if (result.left.length > 0) {
      throw new ParleyError('internal', `processes ${result.left.join(', ')} did not stop`);
    }
    const extra =
      result.killed.length === 0 ? '' : `; killed ${result.killed.length} leftover process(es)`;
    io.stdout(
      wasRunning
        ? `stopped parley up in ${dir} (supervisor pid ${state.supervisorPid}${extra})\n`
        : `parley up in ${dir} was not running (its supervisor had exited); cleaned up${extra}\n`,
    );
    return 0;
  },
};
