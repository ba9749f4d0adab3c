/**
 * `pai add|get|describe|delete secret` end to end: the real CLI binary against a real `pai serve`
 * on a temp data dir. Bad input fails with a clear message on stderr (exit 1, or 2 for usage) and
 * changes nothing; the bytes that arrive are checked by opening the store in-process at the end.
 */
import fs from 'node:fs';
import path from 'node:path';
import anyTest, { type ExecutionContext, type TestFn } from 'ava';
import YAML from 'yaml';
import { LocalStore } from '../src/store/local/sqlite-store.js';
import { api } from './helpers/api.js';
import { type CliResult, type ServeHandle, adminToken, cleanEnv, runPai, startServe, tempDir } from './helpers/process.js';
import { assertSecrets, awkwardBytes, type Expected, openLocal } from './helpers/secrets.js';

interface Ctx {
  root: string;
  server: ServeHandle;
  /** A second server, for secrets created days, hours and minutes ago. */
  aged: ServeHandle;
  token: string;
  files: string;
  /** What the CLI wrote, to compare byte for byte at the end. */
  expected: Expected;
}

const test = anyTest as TestFn<Ctx>;

/**
 * Writes secrets created `ageMs` ago straight into a running server's store (SQLite allows a
 * second process): each age sits mid-way in its display bucket, so a slow run cannot tip it over.
 */
async function seedAged(dataDir: string, ages: Record<string, number>): Promise<void> {
  for (const [name, ageMs] of Object.entries(ages)) {
    const store = LocalStore.open({
      dataDir,
      masterKeyFile: path.join(dataDir, 'master.key'),
      now: () => new Date(Date.now() - ageMs),
    });
    try {
      await store.createSecret(name, new Map([['token', Buffer.from(`value-of-${name}`)]]));
    } finally {
      await store.close();
    }
  }
}

test.before(async (t) => {
  const root = tempDir('pai-cli-');
  const files = path.join(root, 'files');
  fs.mkdirSync(files);
  const started = await Promise.allSettled([
    startServe({ dataDir: path.join(root, 'data') }),
    startServe({ dataDir: path.join(root, 'aged') }),
  ]);
  const [server, aged] = started.map((s) => (s.status === 'fulfilled' ? s.value : undefined));
  // Whatever started is in the context, so that test.after.always stops it even if the other failed.
  t.context = { root, files, expected: new Map([['existing', new Map([['k', Buffer.from('original')]])]]) } as Ctx;
  if (server) t.context.server = server;
  if (aged) t.context.aged = aged;
  for (const s of started) if (s.status === 'rejected') throw s.reason;
  t.context.token = adminToken(t.context.server.dataDir);
  const existing = await api(t.context.server.adminUrl, t.context.token, 'POST', '/v1/secrets', {
    name: 'existing',
    data: { k: 'original' },
  });
  if (existing.status !== 201) throw new Error(`setup failed: ${existing.text}`);
});

test.after.always(async (t) => {
  await Promise.all([t.context.server?.stop(), t.context.aged?.stop()]);
  if (t.context.root) fs.rmSync(t.context.root, { recursive: true, force: true });
});

const pai = (
  t: ExecutionContext<Ctx>,
  args: readonly string[],
  input?: string | Buffer,
  env: Record<string, string> = {},
): Promise<CliResult> => runPai(args, { ...t.context.server.env, ...env }, input);

/** Writes a file under the test's files dir; returns its path. */
function file(t: ExecutionContext<Ctx>, name: string, content: string | Buffer): string {
  const p = path.join(t.context.files, name);
  fs.mkdirSync(path.dirname(p), { recursive: true });
  fs.writeFileSync(p, content);
  return p;
}

/** Names, versions and key sizes of every secret, through the API: the "nothing changed" witness. */
async function snapshot(t: ExecutionContext<Ctx>): Promise<unknown> {
  const { server } = t.context;
  const list = await api(server.adminUrl, t.context.token, 'GET', '/v1/secrets').catch((err: unknown) => {
    throw new Error(`the server cannot be reached (exit ${server.child.exitCode}):\n${server.stderr().slice(-2000)}`, {
      cause: err,
    });
  });
  return list.json.items;
}

function assertOk(t: ExecutionContext, r: CliResult, stdout: string | RegExp): void {
  t.is(r.code, 0, r.stderr);
  t.is(r.stderr, '');
  if (typeof stdout === 'string') t.is(r.stdout, stdout);
  else t.regex(r.stdout, stdout);
}

// ---- help -----------------------------------------------------------------------------------

/** The sub-command names listed under "Commands:" in a help text. */
function commandsIn(help: string): string[] {
  const section = help.split(/^Commands:$/m)[1] ?? '';
  return [...section.matchAll(/^ {2}([a-z][a-z-]*)/gm)].map((m) => m[1] ?? '').filter((c) => c !== 'help');
}

test.serial('every command and sub-command prints help and exits 0', async (t) => {
  const top = await pai(t, ['--help']);
  assertOk(t, top, /^Usage: pai \[options\] \[command\]/);
  const commands = commandsIn(top.stdout);
  for (const expected of ['add', 'get', 'describe', 'delete', 'serve', 'rotate', 'create'])
    t.true(commands.includes(expected), expected);
  const paths: string[][] = [];
  await Promise.all(
    commands.map(async (c) => {
      const r = await pai(t, [c, '--help']);
      assertOk(t, r, new RegExp(`^Usage: pai ${c} `));
      paths.push([c]);
      for (const sub of commandsIn(r.stdout)) paths.push([c, sub]);
    }),
  );
  const subs = paths.filter((p) => p.length === 2);
  t.true(subs.some((p) => p.join(' ') === 'add secret'));
  t.true(subs.some((p) => p.join(' ') === 'rotate master-key'));
  await Promise.all(
    subs.map(async (p) => {
      const r = await pai(t, [...p, '--help']);
      assertOk(t, r, new RegExp(`^Usage: pai ${p.join(' ')} `));
      t.regex(r.stdout, /-h, --help/);
    }),
  );
  const addHelp = await pai(t, ['add', 'help', 'secret']);
  assertOk(t, addHelp, /--from-literal <key=value>[\s\S]*--from-file[\s\S]*--from-env-file[\s\S]*--overwrite[\s\S]*Examples:/);
});

// ---- bad input ------------------------------------------------------------------------------

interface BadCase {
  readonly what: string;
  readonly args: (t: ExecutionContext<Ctx>) => string[];
  readonly code: 1 | 2;
  readonly stderr: RegExp;
  readonly input?: string;
  readonly env?: (t: ExecutionContext<Ctx>) => Record<string, string>;
}

const MIB = 1024 * 1024;

const badCases: BadCase[] = [
  {
    what: 'a name that is not DNS-1123',
    args: () => ['add', 'secret', 'Bad_Name', '--from-literal', 'k=v'],
    code: 1,
    stderr: /invalid secret name "Bad_Name": must consist of lower-case/,
  },
  {
    what: 'a 64-character name',
    args: () => ['add', 'secret', 'a'.repeat(64), '--from-literal', 'k=v'],
    code: 1,
    stderr: /must be at most 63 characters \(has 64\)/,
  },
  {
    what: 'an invalid key',
    args: () => ['add', 'secret', 'fresh', '--from-literal', 'bad key=v'],
    code: 1,
    stderr: /invalid key "bad key" from --from-literal/,
  },
  {
    what: 'the key ".."',
    args: () => ['add', 'secret', 'fresh', '--from-literal', '..=v'],
    code: 1,
    stderr: /invalid key "\.\."/,
  },
  {
    what: 'a key given twice',
    args: () => ['add', 'secret', 'fresh', '--from-literal', 'k=1', '--from-literal', 'k=2'],
    code: 2,
    stderr: /key "k" is given more than once/,
  },
  {
    what: 'a key given twice across sources',
    args: (t) => ['add', 'secret', 'fresh', '--from-literal', 'k=1', '--from-file', `k=${file(t, 'dup.txt', 'x')}`],
    code: 2,
    stderr: /key "k" is given more than once \(again in --from-file/,
  },
  {
    what: '--from-literal without "="',
    args: () => ['add', 'secret', 'fresh', '--from-literal', 'novalue'],
    code: 2,
    stderr: /--from-literal expects KEY=VALUE.*not shown/,
  },
  {
    what: '--from-literal with an empty key',
    args: () => ['add', 'secret', 'fresh', '--from-literal', '=v'],
    code: 2,
    stderr: /the key is empty/,
  },
  { what: 'no keys at all', args: () => ['add', 'secret', 'fresh'], code: 2, stderr: /a secret needs at least one key/ },
  {
    what: 'a value over 1 MiB',
    args: (t) => ['add', 'secret', 'fresh', '--from-file', file(t, 'big.bin', Buffer.alloc(MIB + 1, 1))],
    code: 1,
    stderr: /secret "fresh" holds 1048577 bytes; the limit is 1048576 \(1 MiB\)/,
  },
  {
    what: 'keys that add up to over 1 MiB',
    args: (t) => [
      'add',
      'secret',
      'fresh',
      '--from-file',
      `a=${file(t, 'half.bin', Buffer.alloc(MIB / 2, 1))}`,
      '--from-file',
      `b=${file(t, 'half2.bin', Buffer.alloc(MIB / 2 + 1, 1))}`,
    ],
    code: 1,
    stderr: /holds 1048577 bytes/,
  },
  {
    what: 'a missing file',
    args: () => ['add', 'secret', 'fresh', '--from-file', '/nonexistent/pai/x.pem'],
    code: 1,
    stderr: /cannot read \/nonexistent\/pai\/x\.pem: no such file/,
  },
  {
    what: 'a directory as file',
    args: (t) => ['add', 'secret', 'fresh', '--from-file', t.context.files],
    code: 1,
    stderr: /cannot read .*: EISDIR/,
  },
  {
    what: '--from-file - without a key',
    args: () => ['add', 'secret', 'fresh', '--from-file', '-'],
    code: 2,
    stderr: /--from-file - needs a key: --from-file KEY=-/,
  },
  {
    what: 'stdin read twice',
    args: () => ['add', 'secret', 'fresh', '--from-file', 'a=-', '--from-file', 'b=-'],
    input: 'x',
    code: 2,
    stderr: /standard input can be read only once/,
  },
  {
    what: 'an env file with a line that is not KEY=VALUE',
    args: (t) => ['add', 'secret', 'fresh', '--from-env-file', file(t, 'bad.env', 'GOOD=1\nthis line is wrong\n')],
    code: 2,
    stderr: /bad\.env:2: expected KEY=VALUE/,
  },
  {
    what: 'an env file with an invalid key',
    args: (t) => ['add', 'secret', 'fresh', '--from-env-file', file(t, 'badkey.env', 'BAD KEY=1\n')],
    code: 1,
    stderr: /invalid key "BAD KEY"/,
  },
  {
    what: 'an existing name without --overwrite',
    args: () => ['add', 'secret', 'existing', '--from-literal', 'k=v'],
    code: 1,
    stderr: /secret "existing" already exists; add --overwrite to replace its keys/,
  },
  { what: 'no name', args: () => ['add', 'secret'], code: 2, stderr: /missing required argument 'name'/ },
  {
    what: 'an option without its value',
    args: () => ['add', 'secret', 'fresh', '--from-literal'],
    code: 2,
    stderr: /option '--from-literal <key=value>' argument missing/,
  },
  {
    what: 'an unknown option',
    args: () => ['add', 'secret', 'fresh', '--from-literl', 'k=v'],
    code: 2,
    stderr: /unknown option '--from-literl'/,
  },
  { what: 'an unknown command', args: () => ['ad', 'secret', 'fresh'], code: 2, stderr: /unknown command 'ad'/ },
  { what: 'an unknown resource type', args: () => ['get', 'widgets'], code: 2, stderr: /unknown resource type "widgets"/ },
  {
    what: 'an unknown output format',
    args: () => ['get', 'secrets', '-o', 'wide'],
    code: 2,
    stderr: /unknown output format "wide"/,
  },
  { what: 'describe without a name', args: () => ['describe', 'secret'], code: 2, stderr: /missing required argument 'name'/ },
  {
    what: 'describe of an unknown secret',
    args: () => ['describe', 'secret', 'nope'],
    code: 1,
    stderr: /^error: secret "nope" not found\n$/,
  },
  {
    what: 'delete of an unknown secret',
    args: () => ['delete', 'secret', 'nope'],
    code: 1,
    stderr: /^error: secret "nope" not found\n$/,
  },
  {
    what: 'describe of an invalid name',
    args: () => ['describe', 'secret', 'Bad_Name'],
    code: 1,
    stderr: /invalid secret name "Bad_Name"/,
  },
  {
    what: 'an unreachable server',
    args: () => ['get', 'secrets'],
    env: () => ({ PAI_SERVER: 'http://127.0.0.1:1' }),
    code: 1,
    stderr: /cannot reach the pai admin API at http:\/\/127\.0\.0\.1:1: connection refused \(is `pai serve` running\?\)/,
  },
  {
    what: 'no server configured',
    args: () => ['get', 'secrets'],
    env: (t) => ({ PAI_DATA_DIR: path.join(t.context.root, 'nowhere') }),
    code: 1,
    stderr: /no server configured: start `pai serve` on this machine/,
  },
  {
    what: 'a wrong token',
    args: () => ['add', 'secret', 'fresh', '--from-literal', 'k=v'],
    env: () => ({ PAI_TOKEN: `pai_0123456789abcdef_${'A'.repeat(43)}` }),
    code: 1,
    stderr: /^error: invalid, expired or revoked token\n$/,
  },
];

for (const c of badCases) {
  test.serial(`bad input: ${c.what} (exit ${c.code}, nothing changes)`, async (t) => {
    const before = await snapshot(t);
    const r = await pai(t, c.args(t), c.input, c.env?.(t));
    t.is(r.code, c.code, r.stderr);
    t.is(r.stdout, '', 'errors go to stderr only');
    t.regex(r.stderr, /^error: /);
    t.regex(r.stderr, c.stderr);
    t.deepEqual(await snapshot(t), before);
  });
}

test.serial('bad input: a viewer token may not write (403), and nothing changes', async (t) => {
  const made = await pai(t, ['create', 'token', '--role', 'viewer']);
  t.is(made.code, 0, made.stderr);
  const viewer = { PAI_TOKEN: made.stdout.trim() };
  const before = await snapshot(t);
  for (const args of [
    ['add', 'secret', 'fresh', '--from-literal', 'k=v'],
    ['add', 'secret', 'existing', '--from-literal', 'k=v', '--overwrite'],
    ['delete', 'secret', 'existing'],
  ]) {
    const r = await pai(t, args, undefined, viewer);
    t.is(r.code, 1);
    t.regex(r.stderr, /^error: role viewer may not (POST|PUT|DELETE) \/v1\/secrets/);
  }
  const list = await pai(t, ['get', 'secrets', '-o', 'name'], undefined, viewer);
  assertOk(t, list, /^secret\/existing$/m);
  t.deepEqual(await snapshot(t), before);
});

// ---- the seed flow --------------------------------------------------------------------------

test.serial('seed flow: add, get (table, json, yaml, name), describe, overwrite, delete', async (t) => {
  const { expected } = t.context;
  assertOk(
    t,
    await pai(t, ['add', 'secret', 'gemini-key', '--from-literal', 'api-key=AIzaSyD-example-key']),
    'secret/gemini-key created\n',
  );
  expected.set('gemini-key', new Map([['api-key', Buffer.from('AIzaSyD-example-key')]]));
  assertOk(
    t,
    await pai(t, [
      'add',
      'secret',
      'aws-creds',
      '--from-literal',
      'access_key_id=AKIAIOSFODNN7EXAMPLE',
      '--from-literal',
      'secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
    ]),
    'secret/aws-creds created\n',
  );

  const table = await pai(t, ['get', 'secrets']);
  assertOk(t, table, /^NAME/);
  const lines = table.stdout.trimEnd().split('\n');
  t.regex(lines[0] ?? '', /^NAME {2,}KEYS {2,}AGE$/);
  t.deepEqual(
    lines.slice(1).map((l) => l.split(/ {2,}/)[0]),
    ['aws-creds', 'existing', 'gemini-key'],
    'one row per secret, sorted',
  );
  t.regex(lines[1] ?? '', /^aws-creds {2,}access_key_id, secret_access_key {2,}\d+s$/);
  t.regex(lines[3] ?? '', /^gemini-key {2,}api-key {2,}\d+s$/);
  const keysAt = (lines[0] ?? '').indexOf('KEYS');
  const ageAt = (lines[0] ?? '').indexOf('AGE');
  for (const l of lines.slice(1)) {
    t.not(l[keysAt - 1], undefined);
    t.is(l.slice(keysAt - 2, keysAt), '  ', 'columns are aligned');
    t.regex(l.slice(ageAt), /^\d+[sm]$/, 'an age in the AGE column');
  }

  const json = await pai(t, ['get', 'secrets', '-o', 'json']);
  assertOk(t, json, /^\{/);
  const items = (JSON.parse(json.stdout) as { items: Record<string, unknown>[] }).items;
  const aws = items.find((i) => i['name'] === 'aws-creds');
  t.deepEqual(Object.keys(aws ?? {}).sort(), ['createdAt', 'keys', 'name', 'updatedAt', 'version']);
  t.deepEqual(aws?.['keys'], ['access_key_id', 'secret_access_key']);
  const yaml = await pai(t, ['get', 'secrets', '-o', 'yaml']);
  assertOk(t, yaml, /^items:/);
  t.deepEqual(YAML.parse(yaml.stdout), JSON.parse(json.stdout));
  assertOk(t, await pai(t, ['get', 'secrets', '-o', 'name']), 'secret/aws-creds\nsecret/existing\nsecret/gemini-key\n');
  const one = await pai(t, ['get', 'secret', 'aws-creds', '-o', 'json']);
  assertOk(t, one, /^\{/);
  t.is(JSON.parse(one.stdout).name, 'aws-creds');

  const describe = await pai(t, ['describe', 'secret', 'aws-creds']);
  assertOk(t, describe, /^Name: {5}aws-creds$/m);
  t.regex(describe.stdout, /^Version: {2}1$/m);
  t.regex(describe.stdout, /^Created: {2}\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z \(\d+s ago\)$/m);
  t.regex(describe.stdout, /^Updated: {2}\d{4}-\d\d-\d\dT\S+ \(\d+s ago\)$/m);
  t.regex(describe.stdout, /^Keys:\n {2}access_key_id {6}20 bytes\n {2}secret_access_key {2}40 bytes\n/m);
  t.regex(describe.stdout, /^Referenced by: {2}<none>$/m);
  const created = /^Created: {2}(\S+)/m.exec(describe.stdout)?.[1];

  assertOk(
    t,
    await pai(t, ['add', 'secret', 'aws-creds', '--from-literal', 'access_key_id=AKIAROTATED', '--overwrite']),
    'secret/aws-creds configured\n',
  );
  expected.set('aws-creds', new Map([['access_key_id', Buffer.from('AKIAROTATED')]]));
  const after = await pai(t, ['describe', 'secret', 'aws-creds']);
  t.regex(after.stdout, /^Version: {2}2$/m);
  t.regex(after.stdout, /^Keys:\n {2}access_key_id {2}11 bytes\nReferenced by/m, '--overwrite replaces every key');
  t.is(/^Created: {2}(\S+)/m.exec(after.stdout)?.[1], created, 'the creation time stays');

  assertOk(t, await pai(t, ['add', 'secret', 'scratch', '--from-literal', 'k=v']), 'secret/scratch created\n');
  assertOk(t, await pai(t, ['delete', 'secret', 'scratch']), 'secret/scratch deleted\n');
  assertOk(t, await pai(t, ['get', 'secrets', '-o', 'name']), 'secret/aws-creds\nsecret/existing\nsecret/gemini-key\n');
  const gone = await pai(t, ['describe', 'secret', 'scratch']);
  t.is(gone.code, 1);
  t.is(gone.stderr, 'error: secret "scratch" not found\n');
});

test.serial('get secrets shows human ages: 2d, 5h, 3m', async (t) => {
  await seedAged(t.context.aged.dataDir, { 'old-2d': 60 * 3_600_000, 'old-5h': 5.5 * 3_600_000, 'old-3m': 3.5 * 60_000 });
  const r = await runPai(['get', 'secrets'], t.context.aged.env);
  assertOk(t, r, /^NAME/);
  const ages = Object.fromEntries(
    r.stdout
      .trimEnd()
      .split('\n')
      .slice(1)
      .map((l) => {
        const cells = l.split(/ {2,}/);
        return [cells[0], cells[2]];
      }),
  );
  t.deepEqual(ages, { 'old-2d': '2d', 'old-3m': '3m', 'old-5h': '5h' });
  const d = await runPai(['describe', 'secret', 'old-2d'], t.context.aged.env);
  t.regex(d.stdout, /^Created: {2}\S+ \(2d ago\)$/m);
  const direct = await runPai(
    ['get', 'secrets', '-o', 'name'],
    cleanEnv({ PAI_SERVER: t.context.aged.adminUrl, PAI_TOKEN: adminToken(t.context.aged.dataDir) }),
  );
  assertOk(t, direct, 'secret/old-2d\nsecret/old-3m\nsecret/old-5h\n');
});

// ---- input paths and exact bytes ------------------------------------------------------------

test.serial('--from-file: the key defaults to the base name; KEY=PATH names it; KEY=- reads stdin', async (t) => {
  const pem = file(t, 'certs/tls.key', '-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n');
  const ca = file(t, 'ca.pem', Buffer.from([0x30, 0x82, 0x00, 0xff, 0x0d, 0x0a, 0x00]));
  const stdin = awkwardBytes();
  const r = await pai(
    t,
    ['add', 'secret', 'tls', '--from-file', pem, '--from-file', `ca.crt=${ca}`, '--from-file', 'raw=-'],
    stdin,
  );
  assertOk(t, r, 'secret/tls created\n');
  t.context.expected.set(
    'tls',
    new Map([
      ['tls.key', fs.readFileSync(pem)],
      ['ca.crt', fs.readFileSync(ca)],
      ['raw', stdin],
    ]),
  );
  const d = await pai(t, ['describe', 'secret', 'tls']);
  t.regex(d.stdout, /^ {2}ca\.crt {3}7 bytes$/m);
  t.regex(d.stdout, new RegExp(`^ {2}raw {6}${stdin.length} bytes$`, 'm'));
  t.regex(d.stdout, new RegExp(`^ {2}tls\\.key {2}${fs.statSync(pem).size} bytes$`, 'm'));
});

test.serial('--from-env-file: KEY=VALUE lines, comments and blanks skipped, values literal; "-" reads stdin', async (t) => {
  const env = file(
    t,
    'app.env',
    '# comment\n\nDATABASE_URL=postgres://u:p@db/x?sslmode=require&a=b\r\n  # indented comment\nQUOTED="kept as is"\nEMPTY=\nSPACED=  leading spaces\nunicode.key=pässwörd-✓\n',
  );
  assertOk(t, await pai(t, ['add', 'secret', 'app-env', '--from-env-file', env]), 'secret/app-env created\n');
  t.context.expected.set(
    'app-env',
    new Map([
      ['DATABASE_URL', Buffer.from('postgres://u:p@db/x?sslmode=require&a=b')],
      ['QUOTED', Buffer.from('"kept as is"')],
      ['EMPTY', Buffer.alloc(0)],
      ['SPACED', Buffer.from('  leading spaces')],
      ['unicode.key', Buffer.from('pässwörd-✓')],
    ]),
  );
  assertOk(
    t,
    await pai(t, ['add', 'secret', 'env-stdin', '--from-env-file', '-'], 'A=1\nB=two=2\n'),
    'secret/env-stdin created\n',
  );
  t.context.expected.set(
    'env-stdin',
    new Map([
      ['A', Buffer.from('1')],
      ['B', Buffer.from('two=2')],
    ]),
  );
});

test.serial('--from-literal keeps everything after the first "=": k=a=b stores a=b', async (t) => {
  const r = await pai(t, [
    'add',
    'secret',
    'literals',
    '--from-literal',
    'k=a=b',
    '--from-literal',
    'empty=',
    '--from-literal',
    'eq==',
    '--from-literal',
    'spaces= x y ',
    '--from-literal',
    'utf8=ключ ✓',
  ]);
  assertOk(t, r, 'secret/literals created\n');
  t.context.expected.set(
    'literals',
    new Map([
      ['k', Buffer.from('a=b')],
      ['empty', Buffer.alloc(0)],
      ['eq', Buffer.from('=')],
      ['spaces', Buffer.from(' x y ')],
      ['utf8', Buffer.from('ключ ✓')],
    ]),
  );
  const d = await pai(t, ['describe', 'secret', 'literals']);
  t.regex(d.stdout, /^ {2}empty {3}0 bytes$/m);
  t.regex(d.stdout, /^ {2}eq {6}1 byte$/m);
});

test.serial('sources mix in one command, and --overwrite replaces from any source', async (t) => {
  const cfg = file(t, 'config.json', '{"a": 1}\n');
  const envFile = file(t, 'mixed.env', 'FROM_ENV=e\n');
  assertOk(
    t,
    await pai(t, ['add', 'secret', 'mixed', '--from-literal', 'lit=l', '--from-file', cfg, '--from-env-file', envFile]),
    'secret/mixed created\n',
  );
  const bytes = awkwardBytes(100);
  assertOk(
    t,
    await pai(t, ['add', 'secret', 'mixed', '--from-file', 'blob=-', '--overwrite'], bytes),
    'secret/mixed configured\n',
  );
  t.context.expected.set('mixed', new Map([['blob', bytes]]));
  assertOk(t, await pai(t, ['get', 'secret', 'mixed', '-o', 'name']), 'secret/mixed\n');
  const d = await pai(t, ['describe', 'secret', 'mixed']);
  t.regex(d.stdout, /^Version: {2}2$/m);
  t.regex(d.stdout, new RegExp(`^Keys:\\n {2}blob {2}${bytes.length} bytes\\nReferenced`, 'm'));
});

test.serial('exactly 1 MiB from a file is accepted', async (t) => {
  const big = Buffer.alloc(MIB, 0xab);
  assertOk(
    t,
    await pai(t, ['add', 'secret', 'one-mib', '--from-file', `blob=${file(t, 'mib.bin', big)}`]),
    'secret/one-mib created\n',
  );
  t.context.expected.set('one-mib', new Map([['blob', big]]));
});

test.serial('after the server stops, the store holds exactly the bytes the CLI was given', async (t) => {
  await t.context.server.stop();
  const store = openLocal(t.context.server.dataDir);
  try {
    await assertSecrets(t, store, t.context.expected);
  } finally {
    await store.close();
  }
});
