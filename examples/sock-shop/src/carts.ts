// Entry: the carts service.
import { carts } from './apps/carts.js';
import { runProcess } from './http/run-process.js';

runProcess(() => carts());
