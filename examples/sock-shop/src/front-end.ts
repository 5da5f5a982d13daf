// Entry: the front-end service.
import { randomUUID } from 'node:crypto';
import { frontEnd } from './apps/front-end.js';
import { runProcess } from './http/run-process.js';

runProcess(() => frontEnd({ newId: () => randomUUID() }));
