import type { Command } from '../command.js';

/** The admin commands (DESIGN §4) that talk to the server's admin socket, by name. */
export const ADMIN_COMMANDS: Readonly<Record<string, Command>> = {};
