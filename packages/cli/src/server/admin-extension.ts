import type { ServerExtensions } from './run-server.js';

/** Mounts the admin API on the server's admin socket. */
export const adminApiExtension: ServerExtensions = {};
