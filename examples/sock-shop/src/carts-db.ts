// Entry: the carts-db key-value service.
import { cartsDb } from './apps/carts-db.js';
import { runProcess } from './http/run-process.js';

runProcess(() => cartsDb());
