// Entry: the user service.
import { user } from './apps/user.js';
import { runProcess } from './http/run-process.js';

runProcess(() => user());
