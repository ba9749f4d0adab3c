/**
 * Listen-address rules of src/config.ts (issue 16): which addresses count as loopback; the
 * injector's benchmark-only plain TCP switch, which takes literal loopback addresses only (a name
 * such as `localhost` resolves to whatever /etc/hosts says); the admin API's transport (plain
 * HTTP only on loopback or a unix socket, TLS or a loudly named switch otherwise) and its extra
 * Host names; the CLI's client certificate pair. Errors name the variable.
 */
import test, { type ExecutionContext } from 'ava';
import {
  ADMIN_INSECURE_VAR,
  ConfigError,
  INSECURE_TCP_VAR,
  isLoopbackAddress,
  loadClientConfig,
  loadConfig,
} from '../src/config.js';

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

// ---- the admin API's transport (item 3) --------------------------------------------------------

const TLS = { PAI_ADMIN_TLS_CERT: '/etc/pai/admin.crt', PAI_ADMIN_TLS_KEY: '/etc/pai/admin.key' } as const;

for (const listen of ['0.0.0.0:7070', '[::]:7070', '10.1.2.3:7070', 'localhost:7070', 'pai-admin.internal:7070']) {
  test(
    `PAI_ADMIN_LISTEN=${listen} without TLS is refused (plain HTTP off loopback)`,
    refuses(
      { PAI_ADMIN_LISTEN: listen },
      'PAI_ADMIN_LISTEN',
      /is not a loopback address, and plain HTTP would carry admin tokens .*set PAI_ADMIN_TLS_CERT and PAI_ADMIN_TLS_KEY .*PAI_ADMIN_INSECURE_PLAIN_HTTP_ON_NETWORK=1/,
    ),
  );
}

const ADMIN_ACCEPTED: readonly { name: string; env: Record<string, string>; tls: boolean; insecure: boolean }[] = [
  { name: 'the default 127.0.0.1:7070', env: {}, tls: false, insecure: false },
  { name: '[::1]:7070', env: { PAI_ADMIN_LISTEN: '[::1]:7070' }, tls: false, insecure: false },
  { name: 'a unix socket', env: { PAI_ADMIN_LISTEN: 'unix:/run/pai/admin.sock' }, tls: false, insecure: false },
  { name: '0.0.0.0 with TLS', env: { PAI_ADMIN_LISTEN: '0.0.0.0:7070', ...TLS }, tls: true, insecure: false },
  {
    name: '0.0.0.0 with TLS and required client certificates',
    env: { PAI_ADMIN_LISTEN: '0.0.0.0:7070', ...TLS, PAI_ADMIN_TLS_CLIENT_CA: '/etc/pai/clients.pem' },
    tls: true,
    insecure: false,
  },
  {
    name: `0.0.0.0 with ${ADMIN_INSECURE_VAR}=1`,
    env: { PAI_ADMIN_LISTEN: '0.0.0.0:7070', [ADMIN_INSECURE_VAR]: '1' },
    tls: false,
    insecure: true,
  },
];

for (const row of ADMIN_ACCEPTED) {
  test(`PAI_ADMIN_LISTEN: ${row.name} is accepted`, (t) => {
    const config = loadConfig({ ...BASE, ...row.env });
    t.is(config.adminTls !== undefined, row.tls);
    t.is(config.adminInsecurePlainHttp, row.insecure);
  });
}

const ADMIN_REFUSED: readonly { name: string; env: Record<string, string>; variable: string; message: RegExp }[] = [
  {
    name: 'a certificate without its key',
    env: { PAI_ADMIN_TLS_CERT: '/etc/pai/admin.crt' },
    variable: 'PAI_ADMIN_TLS_KEY',
    message: /required with PAI_ADMIN_TLS_CERT/,
  },
  {
    name: 'a key without its certificate',
    env: { PAI_ADMIN_TLS_KEY: '/etc/pai/admin.key' },
    variable: 'PAI_ADMIN_TLS_CERT',
    message: /required with/,
  },
  {
    name: 'a client CA alone',
    env: { PAI_ADMIN_TLS_CLIENT_CA: '/etc/pai/clients.pem' },
    variable: 'PAI_ADMIN_TLS_CERT',
    message: /required with/,
  },
  {
    name: 'TLS on a unix socket',
    env: { PAI_ADMIN_LISTEN: 'unix:/run/pai/admin.sock', ...TLS },
    variable: 'PAI_ADMIN_TLS_CERT',
    message: /TLS applies to a TCP admin listen/,
  },
  {
    name: 'an insecure switch that is not 1 or 0',
    env: { PAI_ADMIN_LISTEN: '0.0.0.0:7070', [ADMIN_INSECURE_VAR]: 'yes' },
    variable: ADMIN_INSECURE_VAR,
    message: /expected 1 or 0, got "yes"/,
  },
  {
    name: 'an allowed host with a port',
    env: { PAI_ADMIN_ALLOWED_HOSTS: 'pai-admin:7070' },
    variable: 'PAI_ADMIN_ALLOWED_HOSTS',
    message: /no port, no wildcard\), got "pai-admin:7070"/,
  },
  {
    name: 'an allowed host with a wildcard',
    env: { PAI_ADMIN_ALLOWED_HOSTS: '*.example.com' },
    variable: 'PAI_ADMIN_ALLOWED_HOSTS',
    message: /got "\*\.example\.com"/,
  },
];

for (const row of ADMIN_REFUSED) {
  test(`admin TLS settings: ${row.name} is refused`, refuses(row.env, row.variable, row.message));
}

test('PAI_ADMIN_ALLOWED_HOSTS: comma-separated, trimmed, lower-cased, trailing dot dropped', (t) => {
  const config = loadConfig({ ...BASE, PAI_ADMIN_ALLOWED_HOSTS: ' Pai-Admin , pai-admin.pai.svc.cluster.local., 10.0.0.9' });
  t.deepEqual(config.adminAllowedHosts, ['pai-admin', 'pai-admin.pai.svc.cluster.local', '10.0.0.9']);
});

test('the CLI: PAI_CA_FILE is read, and PAI_CLIENT_CERT and PAI_CLIENT_KEY go together', (t) => {
  t.is(loadClientConfig({ ...BASE, PAI_CA_FILE: '/etc/pai/ca.pem' }).caFile, '/etc/pai/ca.pem');
  const err = t.throws(() => loadClientConfig({ ...BASE, PAI_CLIENT_CERT: '/c.pem' }), { instanceOf: ConfigError });
  t.is(err?.variable, 'PAI_CLIENT_KEY');
});
