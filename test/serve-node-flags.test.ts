/**
 * `pai serve` runs under the node flags bin/pai.js's `#!` line gives it (V8 takes
 * --no-memory-reducer only on the command line): the line parses and runs on this machine, it names
 * exactly the flags serve checks for, and a serve started without them says so in its log.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import test from 'ava';
import { SERVE_NODE_FLAGS } from '../src/cli/serve.js';
import { PAI_BIN, PAI_NODE_FLAGS, cleanEnv, startServe } from './helpers/process.js';

const MISSING_FLAGS_LOG = 'node was started without the flags pai serve expects';

test('the #! line of bin/pai.js carries exactly the flags pai serve checks for', (t) => {
  t.deepEqual([...PAI_NODE_FLAGS].sort(), [...SERVE_NODE_FLAGS].sort());
  t.true(PAI_NODE_FLAGS.includes('--no-memory-reducer'));
});

test('bin/pai.js runs through its #! line (env -S node FLAGS)', async (t) => {
  // The node on PATH is the one running this test, so the line is exercised, not a different node.
  const env = cleanEnv({ PATH: `${path.dirname(process.execPath)}${path.delimiter}${process.env['PATH'] ?? ''}` });
  const { stdout } = await promisify(execFile)(PAI_BIN, ['--help'], { env });
  t.regex(stdout, /^Usage: pai /m);
});

test('pai serve under the #! flags starts quietly; without them it warns in its log', async (t) => {
  const withFlags = await startServe({ env: { PAI_LOG_LEVEL: 'info' } });
  const without = await startServe({ env: { PAI_LOG_LEVEL: 'info' }, nodeFlags: [] });
  await Promise.all([withFlags.stop(), without.stop()]);
  t.false(withFlags.stderr().includes(MISSING_FLAGS_LOG), withFlags.stderr());
  const warning = without
    .stderr()
    .split('\n')
    .filter((line) => line.includes(MISSING_FLAGS_LOG))
    .map((line) => JSON.parse(line) as { level: unknown; missingFlags: unknown });
  t.is(warning.length, 1, without.stderr());
  t.is(warning[0]?.level, 'warn');
  t.deepEqual(warning[0]?.missingFlags, ['--no-memory-reducer']);
});
