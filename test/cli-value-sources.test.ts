/**
 * Values that never touch argv (issue 16, item 2), with the real `pai` binary on a pseudo-terminal
 * where a person would be: `--from-literal KEY` asks for the value without echo (the terminal shows
 * the prompt, never the value, and /proc/PID/cmdline never holds it); `--from-literal KEY=VALUE`
 * still works but warns once, pointing at the safe forms; a pipe gets no warning (scripts stay
 * quiet). The stored bytes are read back through an env render (the bootstrap token may render).
 */
import fs from 'node:fs';
import anyTest, { type ExecutionContext, type TestFn } from 'ava';
import { api } from './helpers/api.js';
import { type ServeHandle, PAI_BIN, adminToken, runPai, startServe } from './helpers/process.js';
import { runOnPty } from './helpers/pty.js';

interface Ctx {
  server: ServeHandle;
  token: string;
}
const test = anyTest as TestFn<Ctx>;

test.before(async (t) => {
  const server = await startServe();
  t.context = { server, token: adminToken(server.dataDir) };
});
test.after.always(async (t) => {
  await t.context.server?.stop();
  if (t.context.server) fs.rmSync(t.context.server.dataDir, { recursive: true, force: true });
});

/** `pai ARGS` as a person runs it: node with bin/pai.js, on a terminal. */
const paiArgv = (args: readonly string[]): string[] => [process.execPath, PAI_BIN, ...args];

/** The bytes stored under secret/key, read back through an env render of a throwaway agent. */
async function stored(t: ExecutionContext<Ctx>, secret: string, key: string): Promise<string> {
  const { adminUrl } = t.context.server;
  const agent = `reader-${secret}-${key}`.toLowerCase();
  const doc = {
    apiVersion: 'pai/v1',
    kind: 'Agent',
    metadata: { name: agent },
    spec: { env: [{ name: 'V', secretRef: { name: secret, key } }] },
  };
  const put = await api(adminUrl, t.context.token, 'PUT', `/v1/agents/${agent}`, doc);
  if (put.status !== 201 && put.status !== 200) throw new Error(`agent: ${put.text}`);
  const res = await api(adminUrl, t.context.token, 'GET', `/v1/agents/${agent}/env?format=json`);
  if (res.status !== 200) throw new Error(`render: ${res.text}`);
  return (res.json as { items: { name: string; value: string }[] }).items[0]?.value ?? '';
}

const WARNING = /warning: --from-literal KEY=VALUE puts the value on the command line/g;

test('--from-literal KEY on a terminal: asked without echo, never in argv, stored exactly', async (t) => {
  const value = 'CANARY-typed-7Hq2 with spaces=and=equals';
  const other = 'CANARY-second-Zk81';
  const r = await runOnPty(
    paiArgv(['add', 'secret', 'typed', '--from-literal', 'api-key', '--from-literal', 'other']),
    t.context.server.env,
    [
      { expect: 'Value of api-key \\(input hidden\\): ', keys: `${value}\r` },
      { expect: 'Value of other \\(input hidden\\): ', keys: `${other}\r` },
    ],
  );
  t.is(r.code, 0, r.output);
  t.regex(r.output, /secret\/typed created/);
  t.false(r.output.includes('CANARY'), `the terminal showed a typed value:\n${r.output}`);
  t.is(r.cmdlines.length, 2);
  for (const cmdline of r.cmdlines) {
    t.is(cmdline.split('\0').slice(-8).join(' '), 'add secret typed --from-literal api-key --from-literal other ');
    t.false(cmdline.includes('CANARY'), 'no value in /proc/PID/cmdline');
  }
  t.notRegex(r.output, WARNING, 'no warning: no value came from argv');
  t.is(await stored(t, 'typed', 'api-key'), value);
  t.is(await stored(t, 'typed', 'other'), other);
});

test('--from-literal KEY on a terminal: Ctrl-C at the prompt writes nothing', async (t) => {
  const r = await runOnPty(paiArgv(['add', 'secret', 'cancelled', '--from-literal', 'k']), t.context.server.env, [
    { expect: 'Value of k \\(input hidden\\): ', keys: 'CANARY-partial\u0003' },
  ]);
  t.is(r.code, 1, r.output);
  t.regex(r.output, /error: cancelled: no secret was written/);
  t.false(r.output.includes('CANARY'));
  const res = await api(t.context.server.adminUrl, t.context.token, 'GET', '/v1/secrets/cancelled');
  t.is(res.status, 404);
});

test('--from-literal KEY=VALUE on a terminal: stored, with one warning naming the safe forms', async (t) => {
  const r = await runOnPty(
    paiArgv(['add', 'secret', 'in-argv', '--from-literal', 'a=CANARY-argv-1', '--from-literal', 'b=CANARY-argv-2']),
    t.context.server.env,
  );
  t.is(r.code, 0, r.output);
  t.is(r.output.match(WARNING)?.length, 1, r.output);
  t.regex(r.output.replace(/\s+/g, ' '), /give --from-literal KEY alone .*--from-file KEY=PATH or --from-env-file - instead/);
  t.false(r.output.includes('CANARY'), 'the warning does not repeat the value');
  t.is(await stored(t, 'in-argv', 'b'), 'CANARY-argv-2');
});

test('--from-literal KEY=VALUE in a pipe (a script): no warning', async (t) => {
  const r = await runPai(['add', 'secret', 'scripted', '--from-literal', 'a=1'], t.context.server.env);
  t.is(r.code, 0, r.stderr);
  t.is(r.stderr, '');
});

test('--from-env-file - and --from-file KEY=PATH: values from stdin and files, argv holds none', async (t) => {
  const dir = fs.mkdtempSync(`${t.context.server.dataDir}-files-`);
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.writeFileSync(`${dir}/token.txt`, 'CANARY-file-value\n');
  const env = await runPai(['add', 'secret', 'env-stdin', '--from-env-file', '-'], t.context.server.env, 'A=CANARY-env-1\nB=x\n');
  t.is(env.code, 0, env.stderr);
  t.is(await stored(t, 'env-stdin', 'A'), 'CANARY-env-1');
  const file = await runPai(['add', 'secret', 'from-file', '--from-file', `token=${dir}/token.txt`], t.context.server.env);
  t.is(file.code, 0, file.stderr);
  t.is(await stored(t, 'from-file', 'token'), 'CANARY-file-value\n');
});
