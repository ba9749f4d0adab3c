/**
 * `pai serve`'s command lines that skip the command tree (src/cli/main.ts plainServeRole) and the
 * ones left to it: help, a bad or missing role, extra words and flags still get commander's
 * answers (exit 2 and a usage message, or the help text).
 */
import test from 'ava';
import { plainServeRole } from '../src/cli/main.js';
import { cleanEnv, runPai, tempDir } from './helpers/process.js';

const rows: [string[], string | undefined][] = [
  [['serve'], 'all'],
  [['serve', '--role', 'injector'], 'injector'],
  [['serve', '--role=admin'], 'admin'],
  [['serve', '--role', 'webhook'], 'webhook'],
  [['serve', '--role', 'bogus'], undefined],
  [['serve', '--role=', 'all'], undefined],
  [['serve', '--role'], undefined],
  [['serve', '--help'], undefined],
  [['serve', '--role', 'all', 'extra'], undefined],
  [['serve', '-n', 'x'], undefined],
  [['--role', 'all', 'serve'], undefined],
  [['get', 'secrets'], undefined],
  [[], undefined],
];
for (const [argv, role] of rows) {
  test(`plainServeRole(${JSON.stringify(argv)}) = ${String(role)}`, (t) => {
    t.is(plainServeRole(argv), role);
  });
}

test('lines left to the command tree still get its answers', async (t) => {
  const bad = await runPai(['serve', '--role', 'bogus'], cleanEnv({ HOME: tempDir() }));
  t.is(bad.code, 2);
  t.regex(bad.stderr, /--role.*bogus.*Allowed choices are all, admin, injector, webhook/s);
  const help = await runPai(['serve', '--help'], cleanEnv({ HOME: tempDir() }));
  t.is(help.code, 0);
  t.regex(help.stdout, /Usage: pai serve \[options\]/);
  t.regex(help.stdout, /--role <role>/);
});
