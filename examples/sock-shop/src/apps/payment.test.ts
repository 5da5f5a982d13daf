import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_PAYMENT_LIMIT, authorise, parsePaymentLimit, payment } from './payment.js';
import { directCall } from '../http/direct-call.js';

describe('payment', () => {
  it('authorises amounts up to the limit and declines above it', () => {
    assert.equal(authorise(99.99, 100).authorised, true);
    assert.equal(authorise(100, 100).authorised, true);
    const declined = authorise(100.01, 100);
    assert.equal(declined.authorised, false);
    assert.match(declined.message, /exceeds 100\.00/);
  });

  it('answers a decline as a 200 decision and refuses a malformed amount with 400', async () => {
    const call = directCall({ payment: payment({ limit: 50 }) });
    const ok = await call('payment', 'POST', '/paymentAuth', { amount: 50 });
    assert.deepEqual(ok, {
      status: 200,
      body: { authorised: true, message: 'Payment authorised' },
    });
    const no = await call('payment', 'POST', '/paymentAuth', { amount: 51 });
    assert.equal(no.status, 200);
    assert.equal((no.body as { authorised: boolean }).authorised, false);
    for (const amount of [0, -1, '10', null]) {
      const bad = await call('payment', 'POST', '/paymentAuth', { amount });
      assert.equal(bad.status, 400, `amount ${String(amount)}`);
    }
    assert.equal((await call('payment', 'GET', '/paymentAuth')).status, 405);
  });

  it('reads PAYMENT_LIMIT, defaulting to 100', () => {
    assert.equal(parsePaymentLimit(undefined), DEFAULT_PAYMENT_LIMIT);
    assert.equal(parsePaymentLimit('250.5'), 250.5);
    assert.throws(() => parsePaymentLimit('lots'), /PAYMENT_LIMIT must be a non-negative number/);
  });
});
