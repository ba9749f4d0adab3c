/**
 * Listen-address rules of src/config.ts (issue 16): which addresses count as loopback, and the
 * injector's benchmark-only plain TCP switch, which takes literal loopback addresses only (a name
 * such as `localhost` resolves to whatever /etc/hosts says). Errors name the variable.
 */
import test, { type ExecutionContext } from 'ava';
import { ConfigError, INSECURE_TCP_VAR, isLoopbackAddress, loadConfig } from '../src/config.js';

const BASE = { HOME: '/nonexistent-home', PAI_DATA_DIR: '/nonexistent-home/.pai' } as const;

/** loadConfig(env) must throw a ConfigError naming `variable` whose message matches `message`. */
function refuses(env: Record<string, string>, variable: string, message: RegExp): (t: ExecutionContext) => void {
  return (t) => {
    const err = t.throws(() => loadConfig({ ...BASE, ...env }), { instanceOf: ConfigError });
    t.is(err?.variable, variable);
    t.regex(err?.message ?? '', message);
  };
}

const LOOPBACK_ROWS: readonly [string, boolean][] = [
  ['localhost', false],
  ['LOCALHOST', false],
  ['localhost.', false],
  ['127.0.0.1.nip.io', false],
  ['0.0.0.0', false],
  ['::', false],
  ['10.0.0.1', false],
  ['128.0.0.1', false],
  ['::ffff:10.0.0.1', false],
  ['127.0.0.1', true],
  ['127.1.2.3', true],
  ['127.255.255.255', true],
  ['::1', true],
  ['0:0:0:0:0:0:0:1', true],
];

for (const [host, loopback] of LOOPBACK_ROWS) {
  test(`isLoopbackAddress(${JSON.stringify(host)}) is ${loopback}`, (t) => {
    t.is(isLoopbackAddress(host), loopback);
  });
}

for (const host of ['localhost', 'LocalHost', 'localhost.', '0.0.0.0', '10.1.2.3', '[::]']) {
  test(
    `${INSECURE_TCP_VAR}: plain TCP on ${host} is refused (literal loopback addresses only)`,
    refuses(
      { PAI_INJECTOR_LISTEN: `${host}:9001`, [INSECURE_TCP_VAR]: '1' },
      INSECURE_TCP_VAR,
      /plain TCP is allowed only on a literal loopback address \(127\.0\.0\.0\/8 or ::1\)/,
    ),
  );
}

for (const host of ['127.0.0.1', '127.0.0.2', '[::1]']) {
  test(`${INSECURE_TCP_VAR}: plain TCP on ${host} is allowed (benchmarks)`, (t) => {
    const config = loadConfig({ ...BASE, PAI_INJECTOR_LISTEN: `${host}:9001`, [INSECURE_TCP_VAR]: '1' });
    t.true(config.injectorInsecureLoopbackTcp);
  });
}

test(
  'the injector on TCP without mTLS and without the switch is refused',
  refuses({ PAI_INJECTOR_LISTEN: '127.0.0.1:9001' }, 'PAI_INJECTOR_LISTEN', /TCP needs mTLS/),
);
