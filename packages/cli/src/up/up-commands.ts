import type { Command } from '../command.js';
import { downCommand } from './down-command.js';
import { statusCommand } from './status-command.js';
import { upCommand } from './up-command.js';

/** `parley up`, `parley down` and `parley status`: the local mesh (issue 5, DESIGN §4). */
export const UP_COMMANDS: Readonly<Record<string, Command>> = {
  up: upCommand,
  down: downCommand,
  status: statusCommand,
};
