/**
 * The secrets CLI flows of the secrets issue, shared by the local-store suite
 * (test/cli-secrets.test.ts) and the Vault one (test/vault-serve.test.ts): the real `pai` binary
 * against a running `pai serve`, asserting exact output. Every value the CLI writes is recorded in
 * `target.expected`, for a byte-for-byte check of the store at the end. They expect the secret
 * `existing` (createExisting) and run in this order, serially, on one server.
 */
import fs from 'node:fs';
import type { ExecutionContext } from 'ava';
import YAML from 'yaml';
import { BAD_CASES, runBadCase, viewerMayNotWrite } from './cli-secret-cases.js';
import { type CliTarget, assertOk, file, pai } from './cli-target.js';
import { awkwardBytes } from './secrets.js';

const MIB = 1024 * 1024;

async function seedFlow(t: ExecutionContext, target: CliTarget): Promise<void> {
  const { expected } = target;
  assertOk(
    t,
    await pai(target, ['add', 'secret', 'gemini-key', '--from-literal', 'api-key=AIzaSyD-example-key']),
    'secret/gemini-key created\n',
  );
  expected.set('gemini-key', new Map([['api-key', Buffer.from('AIzaSyD-example-key')]]));
  assertOk(
    t,
    await pai(target, [
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

  const table = await pai(target, ['get', 'secrets']);
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

  const json = await pai(target, ['get', 'secrets', '-o', 'json']);
  assertOk(t, json, /^\{/);
  const items = (JSON.parse(json.stdout) as { items: Record<string, unknown>[] }).items;
  const aws = items.find((i) => i['name'] === 'aws-creds');
  t.deepEqual(Object.keys(aws ?? {}).sort(), ['createdAt', 'keys', 'name', 'updatedAt', 'version']);
  t.deepEqual(aws?.['keys'], ['access_key_id', 'secret_access_key']);
  const yaml = await pai(target, ['get', 'secrets', '-o', 'yaml']);
  assertOk(t, yaml, /^items:/);
  t.deepEqual(YAML.parse(yaml.stdout), JSON.parse(json.stdout));
  assertOk(t, await pai(target, ['get', 'secrets', '-o', 'name']), 'secret/aws-creds\nsecret/existing\nsecret/gemini-key\n');
  const one = await pai(target, ['get', 'secret', 'aws-creds', '-o', 'json']);
  assertOk(t, one, /^\{/);
  t.is(JSON.parse(one.stdout).name, 'aws-creds');

  const describe = await pai(target, ['describe', 'secret', 'aws-creds']);
  assertOk(t, describe, /^Name: {5}aws-creds$/m);
  t.regex(describe.stdout, /^Version: {2}1$/m);
  t.regex(describe.stdout, /^Created: {2}\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z \(\d+s ago\)$/m);
  t.regex(describe.stdout, /^Updated: {2}\d{4}-\d\d-\d\dT\S+ \(\d+s ago\)$/m);
  t.regex(describe.stdout, /^Keys:\n {2}access_key_id {6}20 bytes\n {2}secret_access_key {2}40 bytes\n/m);
  t.regex(describe.stdout, /^Referenced by: {2}<none>$/m);
  const created = /^Created: {2}(\S+)/m.exec(describe.stdout)?.[1];

  assertOk(
    t,
    await pai(target, ['add', 'secret', 'aws-creds', '--from-literal', 'access_key_id=AKIAROTATED', '--overwrite']),
    'secret/aws-creds configured\n',
  );
  expected.set('aws-creds', new Map([['access_key_id', Buffer.from('AKIAROTATED')]]));
  const after = await pai(target, ['describe', 'secret', 'aws-creds']);
  t.regex(after.stdout, /^Version: {2}2$/m);
  t.regex(after.stdout, /^Keys:\n {2}access_key_id {2}11 bytes\nReferenced by/m, '--overwrite replaces every key');
  t.is(/^Created: {2}(\S+)/m.exec(after.stdout)?.[1], created, 'the creation time stays');

  assertOk(t, await pai(target, ['add', 'secret', 'scratch', '--from-literal', 'k=v']), 'secret/scratch created\n');
  assertOk(t, await pai(target, ['delete', 'secret', 'scratch']), 'secret/scratch deleted\n');
  assertOk(t, await pai(target, ['get', 'secrets', '-o', 'name']), 'secret/aws-creds\nsecret/existing\nsecret/gemini-key\n');
  const gone = await pai(target, ['describe', 'secret', 'scratch']);
  t.is(gone.code, 1);
  t.is(gone.stderr, 'error: secret "scratch" not found\n');
}

// ---- input paths and exact bytes ------------------------------------------------------------

async function fromFileFlow(t: ExecutionContext, target: CliTarget): Promise<void> {
  const pem = file(target, 'certs/tls.key', '-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n');
  const ca = file(target, 'ca.pem', Buffer.from([0x30, 0x82, 0x00, 0xff, 0x0d, 0x0a, 0x00]));
  const stdin = awkwardBytes();
  const r = await pai(
    target,
    ['add', 'secret', 'tls', '--from-file', pem, '--from-file', `ca.crt=${ca}`, '--from-file', 'raw=-'],
    stdin,
  );
  assertOk(t, r, 'secret/tls created\n');
  target.expected.set(
    'tls',
    new Map([
      ['tls.key', fs.readFileSync(pem)],
      ['ca.crt', fs.readFileSync(ca)],
      ['raw', stdin],
    ]),
  );
  const d = await pai(target, ['describe', 'secret', 'tls']);
  t.regex(d.stdout, /^ {2}ca\.crt {3}7 bytes$/m);
  t.regex(d.stdout, new RegExp(`^ {2}raw {6}${stdin.length} bytes$`, 'm'));
  t.regex(d.stdout, new RegExp(`^ {2}tls\\.key {2}${fs.statSync(pem).size} bytes$`, 'm'));
}

async function fromEnvFileFlow(t: ExecutionContext, target: CliTarget): Promise<void> {
  const env = file(
    target,
    'app.env',
    '# comment\n\nDATABASE_URL=postgres://u:p@db/x?sslmode=require&a=b\r\n  # indented comment\nQUOTED="kept as is"\nEMPTY=\nSPACED=  leading spaces\nunicode.key=pässwörd-✓\n',
  );
  assertOk(t, await pai(target, ['add', 'secret', 'app-env', '--from-env-file', env]), 'secret/app-env created\n');
  target.expected.set(
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
    await pai(target, ['add', 'secret', 'env-stdin', '--from-env-file', '-'], 'A=1\nB=two=2\n'),
    'secret/env-stdin created\n',
  );
  target.expected.set(
    'env-stdin',
    new Map([
      ['A', Buffer.from('1')],
      ['B', Buffer.from('two=2')],
    ]),
  );
}

async function fromLiteralFlow(t: ExecutionContext, target: CliTarget): Promise<void> {
  const r = await pai(target, [
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
  target.expected.set(
    'literals',
    new Map([
      ['k', Buffer.from('a=b')],
      ['empty', Buffer.alloc(0)],
      ['eq', Buffer.from('=')],
      ['spaces', Buffer.from(' x y ')],
      ['utf8', Buffer.from('ключ ✓')],
    ]),
  );
  const d = await pai(target, ['describe', 'secret', 'literals']);
  t.regex(d.stdout, /^ {2}empty {3}0 bytes$/m);
  t.regex(d.stdout, /^ {2}eq {6}1 byte$/m);
}

async function mixedSourcesFlow(t: ExecutionContext, target: CliTarget): Promise<void> {
  const cfg = file(target, 'config.json', '{"a": 1}\n');
  const envFile = file(target, 'mixed.env', 'FROM_ENV=e\n');
  assertOk(
    t,
    await pai(target, ['add', 'secret', 'mixed', '--from-literal', 'lit=l', '--from-file', cfg, '--from-env-file', envFile]),
    'secret/mixed created\n',
  );
  const bytes = awkwardBytes(100);
  assertOk(
    t,
    await pai(target, ['add', 'secret', 'mixed', '--from-file', 'blob=-', '--overwrite'], bytes),
    'secret/mixed configured\n',
  );
  target.expected.set('mixed', new Map([['blob', bytes]]));
  assertOk(t, await pai(target, ['get', 'secret', 'mixed', '-o', 'name']), 'secret/mixed\n');
  const d = await pai(target, ['describe', 'secret', 'mixed']);
  t.regex(d.stdout, /^Version: {2}2$/m);
  t.regex(d.stdout, new RegExp(`^Keys:\\n {2}blob {2}${bytes.length} bytes\\nReferenced`, 'm'));
}

async function oneMibFlow(t: ExecutionContext, target: CliTarget): Promise<void> {
  const big = Buffer.alloc(MIB, 0xab);
  assertOk(
    t,
    await pai(target, ['add', 'secret', 'one-mib', '--from-file', `blob=${file(target, 'mib.bin', big)}`]),
    'secret/one-mib created\n',
  );
  target.expected.set('one-mib', new Map([['blob', big]]));
}

/** `--from-literal KEY` alone reads one line of stdin per key, in order; "\r\n" ends a line too (issue 16, item 2). */
async function bareLiteralFlow(t: ExecutionContext, target: CliTarget): Promise<void> {
  const r = await pai(
    target,
    [
      'add',
      'secret',
      'from-stdin',
      '--from-literal',
      'id',
      '--from-literal',
      'inline=argv',
      '--from-literal',
      'secret',
      '--from-literal',
      'blank',
    ],
    'AKIA-stdin-id\r\nwJal=rX/stdin secret \n\n',
  );
  assertOk(t, r, 'secret/from-stdin created\n');
  target.expected.set(
    'from-stdin',
    new Map([
      ['id', Buffer.from('AKIA-stdin-id')],
      ['inline', Buffer.from('argv')],
      ['secret', Buffer.from('wJal=rX/stdin secret ')],
      ['blank', Buffer.alloc(0)],
    ]),
  );
  // The last line needs no newline.
  assertOk(
    t,
    await pai(target, ['add', 'secret', 'one-line', '--from-literal', 'token'], 'ghp_no-newline'),
    'secret/one-line created\n',
  );
  target.expected.set('one-line', new Map([['token', Buffer.from('ghp_no-newline')]]));
}

export interface CliFlow {
  readonly title: string;
  readonly run: (t: ExecutionContext, target: CliTarget) => Promise<void>;
}

/** Every flow, in the order the suites run them (test.serial, one server). */
export const SECRET_FLOWS: readonly CliFlow[] = [
  ...BAD_CASES.map((c) => ({
    title: `bad input: ${c.what} (exit ${c.code}, nothing changes)`,
    run: (t: ExecutionContext, target: CliTarget) => runBadCase(t, target, c),
  })),
  { title: 'bad input: a viewer token may not write (403), and nothing changes', run: viewerMayNotWrite },
  { title: 'seed flow: add, get (table, json, yaml, name), describe, overwrite, delete', run: seedFlow },
  { title: '--from-file: the key defaults to the base name; KEY=PATH names it; KEY=- reads stdin', run: fromFileFlow },
  {
    title: '--from-env-file: KEY=VALUE lines, comments and blanks skipped, values literal; "-" reads stdin',
    run: fromEnvFileFlow,
  },
  { title: '--from-literal keeps everything after the first "=": k=a=b stores a=b', run: fromLiteralFlow },
  { title: '--from-literal KEY alone reads one line of stdin per key, in order (no value in argv)', run: bareLiteralFlow },
  { title: 'sources mix in one command, and --overwrite replaces from any source', run: mixedSourcesFlow },
  { title: 'exactly 1 MiB from a file is accepted', run: oneMibFlow },
];
