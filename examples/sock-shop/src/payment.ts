// Entry: the payment service (`PAYMENT_LIMIT` in euros, default 100).
import { parsePaymentLimit, payment } from './apps/payment.js';
import { runProcess } from './http/run-process.js';

runProcess((_env, vars) => payment({ limit: parsePaymentLimit(vars['PAYMENT_LIMIT']) }));
