/**
 * The logger (src/log.ts): pino's line shape, level filtering, credential-named fields censored at
 * any depth, and never a throw for fields JSON cannot write.
 */
import { Writable } from 'node:stream';
import test from 'ava';
import { CENSOR, createLogger } from '../src/log.js';
import type { LogLevel } from '../src/config.js';

function capture(level: LogLevel): { logger: ReturnType<typeof createLogger>; lines: () => Record<string, unknown>[] } {
  const chunks: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  return {
    logger: createLogger(level, sink),
    lines: () =>
      chunks
        .join('')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

test('a line is level, time, service, the fields, then msg', (t) => {
  const { logger, lines } = capture('info');
  logger.info({ agent: 'bot', count: 2 }, 'hello "there"');
  logger.warn('no fields');
  const [first, second] = lines();
  t.deepEqual(Object.keys(first ?? {}), ['level', 'time', 'service', 'agent', 'count', 'msg']);
  t.like(first, { level: 'info', service: 'pai', agent: 'bot', count: 2, msg: 'hello "there"' });
  t.regex(String(first?.['time']), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  t.like(second, { level: 'warn', msg: 'no fields' });
});

type Emitting = Exclude<LogLevel, 'silent'>;
const emitting: Emitting[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'];
const order: LogLevel[] = [...emitting, 'silent'];
for (const level of order) {
  test(`level ${level}: exactly the levels at or above it are written and enabled`, (t) => {
    const { logger, lines } = capture(level);
    for (const l of emitting) logger[l](l);
    const want: string[] = emitting.slice(order.indexOf(level));
    t.deepEqual(
      lines().map((l) => l['level']),
      want,
    );
    for (const l of emitting) t.is(logger.isLevelEnabled(l), want.includes(l), l);
    t.false(logger.isLevelEnabled('silent'));
  });
}

test('credential-named fields are censored at any depth; other fields are kept', (t) => {
  const { logger, lines } = capture('debug');
  logger.debug({
    authorization: 'Bearer canary-1',
    headers: { 'x-api-key': 'canary-2', accept: 'json', nested: { deeper: { token: 'canary-3', password: 'canary-4' } } },
    list: [{ secret: 'canary-5' }, { value: 'canary-6' }],
    agent: 'bot',
  });
  const text = JSON.stringify(lines());
  for (const n of [1, 2, 3, 4, 5, 6]) t.false(text.includes(`canary-${n}`), `canary-${n}`);
  t.like(lines()[0], { authorization: CENSOR, agent: 'bot', headers: { accept: 'json', 'x-api-key': CENSOR } });
});

test('fields JSON cannot write never make the logger throw', (t) => {
  const { logger, lines } = capture('info');
  const cycle: Record<string, unknown> = { a: 1 };
  cycle['self'] = cycle;
  logger.info(cycle, 'cyclic');
  logger.info({ big: 12345678901234567890n }, 'bigint');
  logger.info({ when: undefined, fn: () => 1 }, 'dropped');
  const [a, b, c] = lines();
  t.like(a, { msg: 'cyclic', logFieldsError: 'the fields could not be written as JSON' });
  t.like(b, { msg: 'bigint', big: '12345678901234567890' });
  t.deepEqual(Object.keys(c ?? {}), ['level', 'time', 'service', 'msg']);
});
