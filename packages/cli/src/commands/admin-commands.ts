import { agentCommand } from './agent-command.js';
import { apiCommand } from './api-command.js';
import { authorityCommand } from './authority-command.js';
import { auditCommand } from './audit-command.js';
import { authzCommand } from './authz-command.js';
import { bundleCommand } from './bundle-command.js';
import type { AdminCommand } from './command-group.js';
import { entryCommand } from './entry-command.js';
import { healthcheckCommand } from './healthcheck-command.js';
import { jwtCommand, x509Command } from './mint-commands.js';
import { meshCommand } from './mesh-command.js';
import { proxyCommand } from './proxy-command.js';
import { secretCommand } from './secret-command.js';
import { oauthCommand } from './oauth-command.js';
import { tokenCommand } from './token-command.js';

/**
 * The admin commands (DESIGN §4) that talk to the server's admin socket, by name; each has a
 * one-line `summary` and a full `usage` (also printed by `parley <command> help`).
 */
export const ADMIN_COMMANDS: Readonly<Record<string, AdminCommand>> = {
  token: tokenCommand,
  entry: entryCommand,
  agent: agentCommand,
  bundle: bundleCommand,
  x509: x509Command,
  jwt: jwtCommand,
  authority: authorityCommand,
  healthcheck: healthcheckCommand,
  api: apiCommand,
  proxy: proxyCommand,
  mesh: meshCommand,
  audit: auditCommand,
  authz: authzCommand,
  secret: secretCommand,
  oauth: oauthCommand,
};
