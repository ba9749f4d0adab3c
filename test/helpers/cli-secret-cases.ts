/**
 * The bad-input half of the secrets CLI flows (shared by the local and the Vault suites): each
 * case fails with a clear message on stderr (exit 1, or 2 for usage), prints nothing on stdout,
 * and changes nothing.
 */
import path from 'node:path';
import type { ExecutionContext } from 'ava';
import { type CliTarget, assertOk, file, pai, snapshot } from './cli-target.js';

export interface BadCase {
  readonly what: string;
  readonly args: (target: CliTarget) => string[];
  readonly code: 1 | 2;
  readonly stderr: RegExp;
  readonly input?: string;
  readonly env?: (target: CliTarget) => Record<string, string>;
}

const MIB = 1024 * 1024;

/** Bad input, failure by failure: exit code and message; the secrets stay as they were. */
export const BAD_CASES: readonly BadCase[] = [
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
    args: (target) => ['add', 'secret', 'fresh', '--from-literal', 'k=1', '--from-file', `k=${file(target, 'dup.txt', 'x')}`],
    code: 2,
    stderr: /key "k" is given more than once \(again in --from-file/,
  },
  // --from-literal KEY (no "="): one line of stdin per such key (issue 16, item 2).
  {
    what: '--from-literal KEY with nothing on stdin',
    args: () => ['add', 'secret', 'fresh', '--from-literal', 'novalue'],
    code: 2,
    // The key is not named: a bare argument may be a value pasted without its key.
    stderr:
      /^(?![\s\S]*novalue)[\s\S]*standard input has 0 line\(s\), but 1 --from-literal KEY option\(s\) need one each \(none for the 1st\)/,
  },
  {
    what: 'two --from-literal KEYs and one line on stdin',
    args: () => ['add', 'secret', 'fresh', '--from-literal', 'a', '--from-literal', 'b'],
    input: 'only-one\n',
    code: 2,
    stderr: /^(?![\s\S]*only-one)[\s\S]*standard input has 1 line\(s\), but 2 .*\(none for the 2nd\)/,
  },
  {
    what: 'more lines on stdin than --from-literal KEYs (a multi-line value needs --from-file KEY=-)',
    args: () => ['add', 'secret', 'fresh', '--from-literal', 'pem'],
    input: '-----BEGIN KEY-----\nMIIsecretbody\n-----END KEY-----\n',
    code: 2,
    stderr:
      /^(?![\s\S]*MIIsecretbody)[\s\S]*standard input has 3 lines, more than the 1 --from-literal KEY option\(s\) it feeds; .*--from-file KEY=-/,
  },
  {
    what: '--from-literal KEY and a "-" source both want stdin',
    args: () => ['add', 'secret', 'fresh', '--from-literal', 'a', '--from-file', 'b=-'],
    input: 'x\n',
    code: 2,
    stderr: /standard input can feed either the values of --from-literal KEY or one "-" source, not both/,
  },
  {
    what: '--from-literal KEY with an invalid key (not shown: it may be a pasted value)',
    args: () => ['add', 'secret', 'fresh', '--from-literal', 'sk live/CANARYBARE'],
    input: 'x\n',
    code: 2,
    stderr: /^(?![\s\S]*CANARYBARE)[\s\S]*--from-literal KEY: the key \(not shown: it may be a value\) must consist of/,
  },
  {
    what: 'the same --from-literal KEY twice (refused before stdin is read)',
    args: () => ['add', 'secret', 'fresh', '--from-literal', 'dupbare9', '--from-literal', 'dupbare9'],
    input: 'x\ny\n',
    code: 2,
    stderr:
      /^(?![\s\S]*dupbare9)[\s\S]*a key \(not shown: it may be a value\) is given more than once \(again in --from-literal\)/,
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
    args: (target) => ['add', 'secret', 'fresh', '--from-file', file(target, 'big.bin', Buffer.alloc(MIB + 1, 1))],
    code: 1,
    stderr: /secret "fresh" holds 1048577 bytes; the limit is 1048576 \(1 MiB\)/,
  },
  {
    what: 'keys that add up to over 1 MiB',
    args: (target) => [
      'add',
      'secret',
      'fresh',
      '--from-file',
      `a=${file(target, 'half.bin', Buffer.alloc(MIB / 2, 1))}`,
      '--from-file',
      `b=${file(target, 'half2.bin', Buffer.alloc(MIB / 2 + 1, 1))}`,
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
    args: (target) => ['add', 'secret', 'fresh', '--from-file', target.files],
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
    args: (target) => ['add', 'secret', 'fresh', '--from-env-file', file(target, 'bad.env', 'GOOD=1\nthis line is wrong\n')],
    code: 2,
    stderr: /bad\.env:2: expected KEY=VALUE \(the line is not shown: it may hold a value\)/,
  },
  // Env-file errors name the file and the line, never the line itself (issue 16, item 7).
  {
    what: 'an env file with an invalid key (the line is not shown)',
    args: (target) => ['add', 'secret', 'fresh', '--from-env-file', file(target, 'badkey.env', 'BAD KEY=1\n')],
    code: 1,
    stderr:
      /^(?![\s\S]*BAD KEY)[\s\S]*badkey\.env:1: invalid key: it must consist of letters, digits, "-", "_" and "\." \(the line is not shown/,
  },
  {
    what: 'an env file whose value holds "=" after a space (no part of it is shown)',
    args: (target) => [
      'add',
      'secret',
      'fresh',
      '--from-env-file',
      file(target, 'spaced.env', 'OK=1\nAPI_TOKEN sk-live-CANARYVALUE=tail-of-the-value\n'),
    ],
    code: 1,
    stderr: /^(?![\s\S]*(?:CANARY|sk-live|API_TOKEN|tail-of))[\s\S]*spaced\.env:2: invalid key/,
  },
  {
    what: 'an env file with a PEM continuation line (no part of it is shown)',
    args: (target) => [
      'add',
      'secret',
      'fresh',
      '--from-env-file',
      file(target, 'pem.env', 'KEY=-----BEGIN PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQ+/CANARYPEM==\n'),
    ],
    code: 1,
    stderr: /^(?![\s\S]*(?:CANARYPEM|BADANBgkq))[\s\S]*pem\.env:2: invalid key/,
  },
  {
    what: 'an env file repeating a key (the key is not shown: it may be part of a value)',
    args: (target) => ['add', 'secret', 'fresh', '--from-env-file', file(target, 'dup.env', 'dupkey9=1\ndupkey9=CANARYDUP\n')],
    code: 2,
    stderr: /^(?![\s\S]*(?:CANARYDUP|dupkey9))[\s\S]*dup\.env:2: the key of this line is given more than once/,
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
    stderr: /option '--from-literal <key\[=value\]>' argument missing/,
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
    env: (target) => ({ PAI_DATA_DIR: path.join(target.root, 'nowhere') }),
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

/** Runs one bad case against `target`. */
export async function runBadCase(t: ExecutionContext, target: CliTarget, c: BadCase): Promise<void> {
  const before = await snapshot(target);
  const r = await pai(target, c.args(target), c.input, c.env?.(target));
  t.is(r.code, c.code, r.stderr);
  t.is(r.stdout, '', 'errors go to stderr only');
  t.regex(r.stderr, /^error: /);
  t.regex(r.stderr, c.stderr);
  t.deepEqual(await snapshot(target), before);
}

/** A viewer token may read but not write (403), and nothing changes. */
export async function viewerMayNotWrite(t: ExecutionContext, target: CliTarget): Promise<void> {
  const made = await pai(target, ['create', 'token', '--role', 'viewer']);
  t.is(made.code, 0, made.stderr);
  const viewer = { PAI_TOKEN: made.stdout.trim() };
  const before = await snapshot(target);
  for (const args of [
    ['add', 'secret', 'fresh', '--from-literal', 'k=v'],
    ['add', 'secret', 'existing', '--from-literal', 'k=v', '--overwrite'],
    ['delete', 'secret', 'existing'],
  ]) {
    const r = await pai(target, args, undefined, viewer);
    t.is(r.code, 1);
    t.regex(r.stderr, /^error: role viewer may not (POST|PUT|DELETE) \/v1\/namespaces\/:namespace\/secrets/);
  }
  const list = await pai(target, ['get', 'secrets', '-o', 'name'], undefined, viewer);
  assertOk(t, list, /^secret\/existing$/m);
  t.deepEqual(await snapshot(target), before);
}
