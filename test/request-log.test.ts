/**
 * The request log's line builder (src/injector/request-log.ts recordLine/recordHead) is the same
 * text as JSON.stringify of the record for any field values (quotes, control characters, lone
 * surrogates, U+2028), and the observer (observe.ts) writes one such line per request through a
 * Provider, with the time of the request, without a value.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import fc from 'fast-check';
import { PaiError } from '../src/errors.js';
import { silentLogger } from '../src/log.js';
import { createMetrics } from '../src/metrics.js';
import type { Decision } from '../src/injector/decide.js';
import { decisionObserver } from '../src/injector/observe.js';
import { RequestLog, type RequestRecord, recordHead, recordLine } from '../src/injector/request-log.js';
import type { InjectionTarget } from '../src/resources/types.js';

const text = fc.oneof(
  fc.string({ maxLength: 20 }),
  fc.string({ unit: 'binary', maxLength: 10 }),
  fc.constantFrom('"\\\n\u2028', '\ud800x'),
);
const record: fc.Arbitrary<RequestRecord> = fc.record(
  {
    time: fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
    agent: text,
    namespace: text,
    kind: fc.constantFrom('Provider' as const, 'ModelProvider' as const),
    provider: text,
    type: text,
    method: text,
    host: text,
    path: text,
    action: text,
    resource: text,
    decision: fc.constantFrom('allow' as const, 'deny' as const, 'audit-deny' as const),
    reason: text,
  },
  { requiredKeys: ['time', 'agent', 'namespace', 'kind', 'provider', 'type', 'method', 'host', 'path', 'decision', 'reason'] },
);

test('recordLine(recordHead) is JSON.stringify of the record, plus a newline', (t) => {
  fc.assert(
    fc.property(record, (r) => {
      const { time, ...tail } = r;
      t.is(recordLine(time, recordHead(r), tail), `${JSON.stringify(r)}\n`);
    }),
    { numRuns: 1000 },
  );
});

test('the observer writes one line per request through a target, with its time, method, path without query', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pai-reqlog-'));
  const file = path.join(dir, 'requests.log');
  const log = new RequestLog({ file, maxBytes: 1 << 20, flushMs: 0 });
  let now = Date.UTC(2026, 11, 6, 5, 0, 0, 123);
  const observer = decisionObserver(createMetrics(), silentLogger(), { requestLog: log, now: () => now });
  const target = {
    kind: 'Provider',
    name: 'github',
    type: 'github',
    secret: 'gh',
    logRequests: true,
  } as unknown as InjectionTarget;
  const inject: Decision = {
    kind: 'inject',
    agent: 'team/bot',
    host: 'api.github.com',
    target,
    mutation: { set: [{ name: 'authorization', value: 'Bearer canary-value' }], remove: [] },
    values: new Map([['token', Buffer.from('canary-value')]]),
  };
  observer.observe('check', inject, process.hrtime.bigint(), { method: 'GET', path: '/repos?q="x"' });
  now += 1;
  observer.observe(
    'check',
    { kind: 'deny', error: new PaiError('forbidden', 'no'), agent: 'team/bot', host: 'api.github.com', target },
    process.hrtime.bigint(),
    {
      method: 'POST',
      path: '/a\nb',
    },
  );
  observer.observe('check', { kind: 'pass', agent: 'team/bot', host: 'example.com' }, process.hrtime.bigint(), {
    method: 'GET',
    path: '/',
  });
  await log.close();
  const text = fs.readFileSync(file, 'utf8');
  t.false(text.includes('canary-value'));
  const lines = text
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l) as RequestRecord);
  t.deepEqual(lines, [
    {
      time: '2026-12-06T05:00:00.123Z',
      agent: 'bot',
      namespace: 'team',
      kind: 'Provider',
      provider: 'github',
      type: 'github',
      method: 'GET',
      host: 'api.github.com',
      path: '/repos',
      decision: 'allow',
      reason: 'allowed',
    },
    {
      time: '2026-12-06T05:00:00.124Z',
      agent: 'bot',
      namespace: 'team',
      kind: 'Provider',
      provider: 'github',
      type: 'github',
      method: 'POST',
      host: 'api.github.com',
      path: '/a\nb',
      decision: 'deny',
      reason: 'forbidden',
    },
  ]);
});
