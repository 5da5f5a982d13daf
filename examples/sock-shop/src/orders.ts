// Entry: the orders service.
import { randomUUID } from 'node:crypto';
import { orders } from './apps/orders.js';
import { runProcess } from './http/run-process.js';

runProcess(() => orders({ now: () => new Date(), newId: () => randomUUID() }));
