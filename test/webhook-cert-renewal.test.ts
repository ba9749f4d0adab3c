/**
 * The webhook's serving certificate is renewed at 2/3 of its life, each new one likewise, and a
 * failed renewal is retried a minute later while the one in use stays (fake clock, no waiting).
 */
import test from 'ava';
import { createLogger } from '../src/log.js';
import { RENEW_RETRY_MS, type ServingCert, keepRenewing } from '../src/webhook/serve.js';
import { FakeClock } from './helpers/sds.js';

const HOUR = 3_600_000;
const cert = (n: number, notAfter: number): ServingCert => ({ cert: `cert-${n}`, key: `key-${n}`, notAfter: new Date(notAfter) });
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

test('renewed at 2/3 of each life; a failure is retried after a minute; stop cancels', async (t) => {
  const clock = new FakeClock(1_000_000);
  const applied: string[] = [];
  let issued = 0;
  let failNext = false;
  const stop = keepRenewing(cert(0, clock.now() + 24 * HOUR), {
    issue: () => {
      if (failNext) {
        failNext = false;
        return Promise.reject(new Error('store down'));
      }
      issued += 1;
      return Promise.resolve(cert(issued, clock.now() + 24 * HOUR));
    },
    apply: (c) => applied.push(c.cert),
    clock,
    logger: createLogger('silent'),
  });
  clock.advance(16 * HOUR - 1);
  await settle();
  t.deepEqual(applied, [], 'not before 2/3 of the life');
  clock.advance(1);
  await settle();
  t.deepEqual(applied, ['cert-1']);
  failNext = true;
  clock.advance(16 * HOUR);
  await settle();
  t.deepEqual(applied, ['cert-1'], 'the failed renewal applies nothing');
  clock.advance(RENEW_RETRY_MS);
  await settle();
  t.deepEqual(applied, ['cert-1', 'cert-2'], 'retried a minute later');
  stop();
  clock.advance(48 * HOUR);
  await settle();
  t.deepEqual(applied, ['cert-1', 'cert-2'], 'nothing after stop');
});
