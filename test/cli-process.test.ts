/**
 * The `pai` program as a process: bin/pai.js's first two lines (read by both sh and node) start
 * node with the flags `pai serve` expects (V8 takes --no-memory-reducer only on the command line),
 * a serve started without them says so in its log, and a reader that goes away (`| head`) ends
 * the CLI quietly with status 141 instead of a stack trace.
 */
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import test from 'ava';
import { SERVE_NODE_FLAGS } from '../src/cli/serve.js';
import {
  PAI_NODE_FLAGS,
  PAI_POD_NODE_FLAGS,
  type ServeHandle,
  cleanEnv,
  runPai,
  startServe,
  tempDir,
} from './helpers/process.js';

const MISSING_FLAGS_LOG = 'node was started without the flags pai serve expects';

/** The environment of a run of bin/pai.js as a program: the node on PATH is the one running this test. */
function programEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return cleanEnv({ PATH: `${path.dirname(process.execPath)}${path.delimiter}${process.env['PATH'] ?? ''}`, ...extra });
}

/** Runs bin/pai.js as a program (the kernel hands it to /bin/sh). */
const runProgram = (
  args: readonly string[],
  env: NodeJS.ProcessEnv,
  onSpawn?: (child: ChildProcess) => void,
): ReturnType<typeof runPai> => runPai(args, env, undefined, { asProgram: true, ...(onSpawn ? { onSpawn } : {}) });

test('the exec line of bin/pai.js carries exactly the flags pai serve checks for', (t) => {
  t.deepEqual([...PAI_NODE_FLAGS].sort(), [...SERVE_NODE_FLAGS].sort());
  t.true(PAI_NODE_FLAGS.includes('--no-memory-reducer'));
});

test('bin/pai.js runs as a program (sh, then node with the flags), its arguments unchanged', async (t) => {
  const asProgram = await runProgram(['--help'], programEnv());
  t.is(asProgram.code, 0, asProgram.stderr);
  t.regex(asProgram.stdout, /^Usage: pai /m);
  const args = await runProgram(['get', 'secrets', '--no-such-option'], programEnv());
  t.is(args.code, 2, 'arguments reach the CLI as given');
  t.regex(args.stderr, /unknown option '--no-such-option'/);
});

test('pai serve run as a program gets the flags; started by node without them, it warns in its log', async (t) => {
  const dataDir = path.join(tempDir(), 'data');
  const env = programEnv({ PAI_DATA_DIR: dataDir, PAI_ADMIN_LISTEN: '127.0.0.1:0', PAI_LOG_LEVEL: 'info' });
  const program = await runProgram(['serve', '--role', 'admin'], env, (child) => {
    let out = '';
    child.stdout?.on('data', (c: Buffer) => {
      out += c.toString('utf8');
      if (/^ready$/m.test(out)) child.kill('SIGTERM');
    });
  });
  t.is(program.code, 0, program.stderr);
  t.regex(program.stdout, /^ready$/m);
  t.false(program.stderr.includes(MISSING_FLAGS_LOG), program.stderr);

  let without: ServeHandle | undefined;
  try {
    without = await startServe({ env: { PAI_LOG_LEVEL: 'info' }, nodeFlags: [] });
  } finally {
    await without?.stop();
  }
  const warning = (without?.stderr() ?? '')
    .split('\n')
    .filter((line) => line.includes(MISSING_FLAGS_LOG))
    .map((line) => JSON.parse(line) as { level: unknown; missingFlags: unknown });
  t.is(warning.length, 1, without?.stderr());
  t.is(warning[0]?.level, 'warn');
  t.deepEqual(warning[0]?.missingFlags, ['--no-memory-reducer']);
});

test('PAI_NODE_PROFILE=pod adds the bounded heap flags to node; an unknown profile stops before node starts', async (t) => {
  t.deepEqual(PAI_POD_NODE_FLAGS, ['--max-semi-space-size=8', '--max-old-space-size=64', '--expose-gc']);
  const dataDir = path.join(tempDir(), 'data');
  const env = programEnv({ PAI_DATA_DIR: dataDir, PAI_ADMIN_LISTEN: '127.0.0.1:0', PAI_NODE_PROFILE: 'pod' });
  let cmdline: string[] = [];
  const pod = await runProgram(['serve', '--role', 'admin'], env, (child) => {
    let out = '';
    child.stdout?.on('data', (c: Buffer) => {
      out += c.toString('utf8');
      if (!/^ready$/m.test(out)) return;
      // sh exec'd node in place: the child's pid is node's.
      cmdline = fs.readFileSync(`/proc/${child.pid}/cmdline`, 'utf8').split('\0');
      child.kill('SIGTERM');
    });
  });
  t.is(pod.code, 0, pod.stderr);
  t.deepEqual(cmdline.slice(1, 5), ['--no-memory-reducer', ...PAI_POD_NODE_FLAGS]);
  const plain = await runProgram(['--help'], programEnv({ PAI_NODE_PROFILE: '' }));
  t.is(plain.code, 0, plain.stderr);
  const bad = await runProgram(['--help'], programEnv({ PAI_NODE_PROFILE: 'huge --inspect' }));
  t.is(bad.code, 2);
  t.is(bad.stdout, '');
  t.regex(bad.stderr, /PAI_NODE_PROFILE must be pod or unset/);
});

test('a reader that goes away (pai … | head) ends the CLI quietly with status 141', async (t) => {
  // The read end is closed before the child has even started, so its first write meets EPIPE.
  const run = await runProgram(['get', '--help'], programEnv(), (child) => child.stdout?.destroy());
  t.is(run.code, 141);
  t.is(run.stderr, '');
});
