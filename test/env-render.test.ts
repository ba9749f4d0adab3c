/**
 * `pai render env AGENT` (DESIGN §5, acceptance 3 of the resources issue), through the real binary
 * against a real `pai serve`: an agent whose env comes from three secrets, written with
 * --from-file, is rendered the way a launcher does it (`pai render env … > file; set -a; . ./file`)
 * by sh and by bash in POSIX mode, and every variable holds exactly the stored bytes: quotes, `$`,
 * backslashes, newlines, `=`, trailing newlines, leading spaces, an empty value, every byte but NUL.
 * JSON output carries value or valueBase64 and the secret versions; a NUL byte is refused (422);
 * viewer and agent tokens get 403 and no value; every render is audited, without values.
 * After the agent's own variables come the six that point TLS stacks at the pai CA bundle
 * (SSL_CERT_FILE, …), at /etc/pai/ca-bundle.pem or `--ca-bundle PATH`, or none with
 * `--no-ca-bundle`; an agent's own entry of the same name wins.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import anyTest, { type ExecutionContext, type TestFn } from 'ava';
import YAML from 'yaml';
import { CA_BUNDLE_ENV_VARS, CA_BUNDLE_PATH } from '../src/resources/agent-trust.js';
import { api } from './helpers/api.js';
import { type CliTarget, assertOk, file, pai } from './helpers/cli-target.js';
import { PAI_BIN, adminToken, startServe, tempDir } from './helpers/process.js';
import { assertApiError, auditRecords } from './helpers/resources-api.js';

interface Ctx extends CliTarget {
  viewer: string;
  renderer: string;
  agent: string;
}

const test = anyTest as TestFn<Ctx>;

interface EnvVar {
  readonly env: string;
  readonly secret: 'shell-text' | 'layout' | 'binary';
  readonly key: string;
  readonly value: Buffer;
}

const EVERY_BYTE = Buffer.from([
  ...Array.from({ length: 255 }, (_, i) => i + 1),
  ...Array.from({ length: 255 }, (_, i) => 255 - i),
]);

/** What launcher-bot's env holds: three secrets, each value one a shell or a dotenv writer could get wrong. */
const VARS: readonly EnvVar[] = [
  {
    env: 'SINGLE_QUOTES',
    secret: 'shell-text',
    key: 'single-quotes',
    value: Buffer.from(`it's 'quoted'; '' "double" '\\'' '; touch pwned; '`),
  },
  {
    env: 'DOLLAR',
    secret: 'shell-text',
    key: 'dollar',
    value: Buffer.from('$HOME ${PATH} $(touch pwned) `touch pwned` $1 $$ $? $'),
  },
  { env: 'BACKSLASHES', secret: 'shell-text', key: 'backslashes', value: Buffer.from("\\ \\n \\' \\\\ \\$HOME ends with \\") },
  { env: 'EQUALS', secret: 'shell-text', key: 'equals', value: Buffer.from('=a=b==c=') },
  {
    env: 'SHELL_SYNTAX',
    secret: 'shell-text',
    key: 'syntax',
    value: Buffer.from('# no comment; exit 1 && x | * ? [a] {b,c} ~ ! < > & ;;'),
  },
  { env: 'NEWLINES', secret: 'layout', key: 'newlines', value: Buffer.from("line one\nline two\r\n\nX='injected'\n  line five") },
  { env: 'TRAILING_NEWLINES', secret: 'layout', key: 'trailing-newlines', value: Buffer.from('ends with two newlines\n\n') },
  { env: 'LEADING_SPACES', secret: 'layout', key: 'leading-spaces', value: Buffer.from('   \tleading spaces and a tab') },
  { env: 'EMPTY', secret: 'layout', key: 'empty', value: Buffer.alloc(0) },
  { env: 'EVERY_BYTE', secret: 'binary', key: 'every-byte', value: EVERY_BYTE },
  {
    env: 'INVALID_UTF8',
    secret: 'binary',
    key: 'invalid-utf8',
    value: Buffer.from([0xff, 0xfe, 0xc3, 0x28, 0xe2, 0x82, 0x0a, 0x80]),
  },
  { env: 'UTF8', secret: 'binary', key: 'utf8', value: Buffer.from('héllo wörld – ✓ 🚀') },
];

const SECRETS = ['shell-text', 'layout', 'binary'] as const;
const AGENT = 'launcher-bot';
const ROTATED = Buffer.from("rotated\n'value'\n");

function agentYaml(name: string, env: readonly { env: string; secret: string; key: string }[]): string {
  const doc = {
    apiVersion: 'pai/v1',
    kind: 'Agent',
    metadata: { name },
    spec: { env: env.map((v) => ({ name: v.env, secretRef: { name: v.secret, key: v.key } })) },
  };
  return YAML.stringify(doc);
}

/** `pai add secret NAME --from-file KEY=PATH …` for each value, from files holding the exact bytes. */
async function addFromFiles(
  target: CliTarget,
  secret: string,
  values: readonly { key: string; value: Buffer }[],
  overwrite = false,
) {
  const args = ['add', 'secret', secret, ...(overwrite ? ['--overwrite'] : [])];
  for (const { key, value } of values) args.push('--from-file', `${key}=${file(target, `${secret}/${key}`, value)}`);
  return pai(target, args);
}

test.before(async (t) => {
  const root = tempDir('pai-env-render-');
  const files = path.join(root, 'files');
  fs.mkdirSync(files);
  const server = await startServe({ dataDir: path.join(root, 'data') });
  t.context = { root, server, files, token: adminToken(server.dataDir), expected: new Map() } as Ctx;
  const token = async (body: Record<string, string>): Promise<string> => {
    const res = await api(server.adminUrl, t.context.token, 'POST', '/v1/tokens', body);
    if (res.status !== 201) throw new Error(`token create answered ${res.status}: ${res.text}`);
    return res.json.token as string;
  };
  t.context.viewer = await token({ role: 'viewer' });
  t.context.renderer = await token({ role: 'renderer' });
  for (const secret of SECRETS) {
    const r = await addFromFiles(
      t.context,
      secret,
      VARS.filter((v) => v.secret === secret),
    );
    if (r.code !== 0) throw new Error(`setup: ${r.stderr}`);
  }
  const nul = await addFromFiles(t.context, 'with-nul', [{ key: 'value', value: Buffer.from('before\0after') }]);
  if (nul.code !== 0) throw new Error(`setup: ${nul.stderr}`);
  const applied = await pai(t.context, [
    'apply',
    '-f',
    file(
      t.context,
      'agents.yaml',
      [
        agentYaml(AGENT, VARS),
        agentYaml('nul-bot', [
          { env: 'FINE', secret: 'shell-text', key: 'equals' },
          { env: 'NUL_VALUE', secret: 'with-nul', key: 'value' },
        ]),
      ].join('---\n'),
    ),
  ]);
  if (applied.stdout !== `agent/${AGENT} created\nagent/nul-bot created\n`)
    throw new Error(`setup: ${applied.stdout}${applied.stderr}`);
  // After the agent exists: an agent token is bound to its agent.
  t.context.agent = await token({ role: 'agent', agent: AGENT });
});

test.after.always(async (t) => {
  await t.context.server?.stop();
  if (t.context.root) fs.rmSync(t.context.root, { recursive: true, force: true });
});

/** The environment of a CLI run with another token. */
const as = (t: ExecutionContext<Ctx>, token: string): Record<string, string> => ({
  PAI_SERVER: t.context.server.adminUrl,
  PAI_TOKEN: token,
});

/** True when `text` holds any of the rendered values (at least 6 bytes long, so that the search means something). */
function holdsAValue(text: string | Buffer): boolean {
  const haystack = typeof text === 'string' ? Buffer.from(text) : text;
  return [...VARS.map((v) => v.value), ROTATED].some((v) => v.length >= 6 && haystack.includes(v));
}

// ---- refused renders: no value anywhere --------------------------------------------------------

test.serial(
  'a viewer token gets 403, an agent token 401 (refused by its prefix), and no value, from the CLI and from the API',
  async (t) => {
    for (const role of ['viewer', 'agent'] as const) {
      for (const format of ['dotenv', 'json']) {
        const r = await pai(t.context, ['render', 'env', AGENT, '-o', format], undefined, as(t, t.context[role]));
        t.deepEqual([r.code, r.stdout], [1, '']);
        t.is(
          r.stderr,
          role === 'agent'
            ? 'error: invalid, expired or revoked token\n'
            : `error: role ${role} may not GET /v1/namespaces/:namespace/agents/:name/env\n`,
        );
        const res = await api(t.context.server.adminUrl, t.context[role], 'GET', `/v1/agents/${AGENT}/env?format=${format}`);
        if (role === 'agent') assertApiError(t, res, 401, 'unauthenticated');
        else assertApiError(t, res, 403, 'forbidden');
        t.false(holdsAValue(res.text));
      }
    }
  },
);

test.serial('a value with a NUL byte is refused with a clear 422, and no other value is shown', async (t) => {
  const message =
    'cannot render env of agent "nul-bot": spec.env[1] (NUL_VALUE): the value contains a NUL byte, which an environment variable cannot hold';
  for (const format of ['dotenv', 'json']) {
    const r = await pai(t.context, ['render', 'env', 'nul-bot', '-o', format]);
    t.deepEqual([r.code, r.stdout, r.stderr], [1, '', `error: ${message}\n`]);
    const res = await api(t.context.server.adminUrl, t.context.renderer, 'GET', `/v1/agents/nul-bot/env?format=${format}`);
    assertApiError(t, res, 422, 'broken_reference');
    t.is(res.json.error.message, message);
    t.false(res.text.includes('=a=b==c='), 'the value of FINE is not in the error');
  }
});

test.serial('render errors: an unknown agent (1), an unknown format (2), a secret deleted under the agent (1)', async (t) => {
  const nobody = await pai(t.context, ['render', 'env', 'nobody']);
  t.deepEqual([nobody.code, nobody.stdout, nobody.stderr], [1, '', 'error: agent "nobody" not found\n']);
  const yaml = await pai(t.context, ['render', 'env', AGENT, '-o', 'yaml']);
  t.is(yaml.code, 2);
  t.regex(yaml.stderr, /^error: option '-o, --output <format>' argument 'yaml' is invalid\. Allowed choices are dotenv, json\./);
  t.is(yaml.stdout, '');
  const forced = await pai(t.context, ['delete', 'secret', 'with-nul', '--force']);
  t.is(forced.code, 0, forced.stderr);
  t.is(
    forced.stderr,
    'warning: these resources now reference a missing secret and will be denied until it is restored:\n  Agent/nul-bot (env[].secretRef)\n',
  );
  const gone = await pai(t.context, ['render', 'env', 'nul-bot']);
  t.deepEqual(
    [gone.code, gone.stdout, gone.stderr],
    [1, '', 'error: cannot render env of agent "nul-bot": spec.env[1] (NUL_VALUE): secret "with-nul" does not exist\n'],
  );
});

// ---- the launcher's round trip through a POSIX shell ---------------------------------------------

/**
 * What a launcher does: `pai render env AGENT > DIR/launcher.env; set -a; . ./launcher.env`, then
 * each variable is written to DIR/out/NAME with printf (and DOLLAR once more by a child process,
 * which sees it only if `set -a` exported it). Returns the dotenv file's bytes.
 */
async function renderAndSource(t: ExecutionContext<Ctx>, shell: readonly string[], dir: string, token?: string): Promise<Buffer> {
  fs.mkdirSync(path.join(dir, 'out'), { recursive: true });
  const script = [
    'set -e',
    'cd "$2"',
    `"$0" "$1" render env ${AGENT} > launcher.env`,
    'set -a',
    '. ./launcher.env',
    'set +a',
    ...VARS.map((v) => `printf %s "$${v.env}" > out/${v.env}`),
    'sh -c \'printf %s "$DOLLAR"\' > out/child-DOLLAR',
  ].join('\n');
  const [command = 'sh', ...flags] = shell;
  const env = { ...t.context.server.env, ...(token === undefined ? {} : as(t, token)) };
  await new Promise<void>((resolve, reject) => {
    execFile(command, [...flags, '-c', script, process.execPath, PAI_BIN, dir], { env }, (err, _stdout, stderr) =>
      err ? reject(new Error(`${shell.join(' ')} failed: ${stderr}`)) : resolve(),
    );
  });
  return fs.readFileSync(path.join(dir, 'launcher.env'));
}

/** The variables `renderAndSource` wrote, by name. */
function sourced(dir: string): Map<string, Buffer> {
  return new Map(VARS.map((v) => [v.env, fs.readFileSync(path.join(dir, 'out', v.env))]));
}

for (const shell of [['sh'], ['bash', '--posix']]) {
  test.serial(`sourced by ${shell.join(' ')} (set -a; . ./file), every variable holds exactly the stored bytes`, async (t) => {
    const dir = path.join(t.context.root, `source-${shell[0] ?? ''}`);
    const dotenv = await renderAndSource(t, shell, dir);
    const got = sourced(dir);
    const wrong = VARS.filter((v) => !got.get(v.env)?.equals(v.value)).map((v) => v.env);
    t.deepEqual(wrong, [], 'every variable reads back byte for byte');
    t.true(
      fs.readFileSync(path.join(dir, 'out', 'child-DOLLAR')).equals(VARS[1]?.value ?? Buffer.alloc(1)),
      'set -a exported it',
    );
    t.false(fs.existsSync(path.join(dir, 'pwned')), 'sourcing ran no command hidden in a value');
    t.is(dotenv.toString('latin1').split('\n')[0], `# pai render env ${AGENT}: secret versions shell-text@1, layout@1, binary@1`);
  });
}

test.serial('a renderer token renders the same file as the owner token (the first token, in config.yaml)', async (t) => {
  const byAdmin = fs.readFileSync(path.join(t.context.root, 'source-sh', 'launcher.env'));
  const dir = path.join(t.context.root, 'source-renderer');
  const byRenderer = await renderAndSource(t, ['sh'], dir, t.context.renderer);
  t.true(byRenderer.equals(byAdmin));
  t.deepEqual(
    VARS.filter((v) => !sourced(dir).get(v.env)?.equals(v.value)).map((v) => v.env),
    [],
  );
});

test.serial('JSON output: value when UTF-8, valueBase64 otherwise, and the secret versions used', async (t) => {
  const r = await pai(t.context, ['render', 'env', AGENT, '-o', 'json']);
  t.is(r.code, 0, r.stderr);
  const rendered = JSON.parse(r.stdout) as { agent: string; secretVersions: unknown; items: Record<string, string>[] };
  t.is(rendered.agent, AGENT);
  t.deepEqual(rendered.secretVersions, { 'shell-text': 1, layout: 1, binary: 1 });
  t.deepEqual(
    rendered.items.map((i) => i['name']),
    [...VARS.map((v) => v.env), ...CA_BUNDLE_ENV_VARS],
    'in the order of spec.env, then the CA variables',
  );
  t.deepEqual(
    rendered.items.slice(VARS.length),
    CA_BUNDLE_ENV_VARS.map((name) => ({ name, value: CA_BUNDLE_PATH })),
  );
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  for (const [i, v] of VARS.entries()) {
    const item = rendered.items[i] ?? {};
    let text: string | undefined;
    try {
      text = utf8.decode(v.value);
    } catch {
      text = undefined;
    }
    if (text === undefined) t.deepEqual(item, { name: v.env, valueBase64: v.value.toString('base64') }, v.env);
    else t.deepEqual(item, { name: v.env, value: text }, v.env);
  }
  t.true('valueBase64' in (rendered.items[9] ?? {}) && 'value' in (rendered.items[11] ?? {}), 'both forms were exercised');
});

test.serial('after a rotation the output states the new version and holds the new bytes', async (t) => {
  const layout = VARS.filter((v) => v.secret === 'layout').map((v) => (v.env === 'NEWLINES' ? { ...v, value: ROTATED } : v));
  assertOk(t, await addFromFiles(t.context, 'layout', layout, true), 'secret/layout configured\n');
  const dir = path.join(t.context.root, 'source-rotated');
  const dotenv = await renderAndSource(t, ['sh'], dir);
  t.is(dotenv.toString('latin1').split('\n')[0], `# pai render env ${AGENT}: secret versions shell-text@1, layout@2, binary@1`);
  t.true(sourced(dir).get('NEWLINES')?.equals(ROTATED));
  const json = JSON.parse((await pai(t.context, ['render', 'env', AGENT, '-o', 'json'])).stdout) as { secretVersions: unknown };
  t.deepEqual(json.secretVersions, { 'shell-text': 1, layout: 2, binary: 1 });
});

// ---- the audit log -------------------------------------------------------------------------------

test.serial('every render is audited: who, which agent, variables, secrets, keys and versions; never a value', (t) => {
  const renders = auditRecords(t.context.server.dataDir).filter((r) => r.action === 'env.render');
  const summary = renders.map((r) => [r.actor.role, r.name, r.outcome, r.code ?? r.detail?.['format']]);
  t.deepEqual(summary, [
    ['owner', 'nul-bot', 'error', 'broken_reference'],
    ['renderer', 'nul-bot', 'error', 'broken_reference'],
    ['owner', 'nul-bot', 'error', 'broken_reference'],
    ['renderer', 'nul-bot', 'error', 'broken_reference'],
    ['owner', 'nobody', 'error', 'not_found'],
    ['owner', 'nul-bot', 'error', 'broken_reference'],
    ['owner', AGENT, 'ok', 'dotenv'],
    ['owner', AGENT, 'ok', 'dotenv'],
    ['renderer', AGENT, 'ok', 'dotenv'],
    ['owner', AGENT, 'ok', 'json'],
    ['owner', AGENT, 'ok', 'dotenv'],
    ['owner', AGENT, 'ok', 'json'],
  ]);
  const last = renders.at(-1);
  t.deepEqual(last?.keys, [...VARS.map((v) => v.env), ...CA_BUNDLE_ENV_VARS]);
  t.deepEqual(last?.detail, {
    format: 'json',
    refs: [
      ...VARS.map((v) => ({ env: v.env, secret: v.secret, key: v.key })),
      ...CA_BUNDLE_ENV_VARS.map((env) => ({ env, caBundle: CA_BUNDLE_PATH })),
    ],
    secretVersions: { 'shell-text': 1, layout: 2, binary: 1 },
  });
  t.false(holdsAValue(fs.readFileSync(path.join(t.context.server.dataDir, 'audit.log'))), 'no value in the audit log');
});

// ---- the CA bundle variables ---------------------------------------------------------------------

/** The CA variables of a dotenv render, name → the quoted value as written (`NAME='value'` lines). */
function caLines(dotenv: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of dotenv.split('\n')) {
    const m = /^([A-Z_]+)=(.*)$/.exec(line);
    if (m?.[1] && (CA_BUNDLE_ENV_VARS as readonly string[]).includes(m[1])) out[m[1]] = m[2] ?? '';
  }
  return out;
}

const every = (value: string): Record<string, string> => Object.fromEntries(CA_BUNDLE_ENV_VARS.map((n) => [n, value]));

test.serial(
  'the six CA variables point at the mounted bundle, at --ca-bundle PATH, or are left out with --no-ca-bundle',
  async (t) => {
    const cases: [string[], Record<string, string>][] = [
      [[], every(`'${CA_BUNDLE_PATH}'`)],
      [['--ca-bundle', "/opt/my certs/it's.pem"], every("'/opt/my certs/it'\\''s.pem'")],
      [['--no-ca-bundle'], {}],
    ];
    for (const [flags, expected] of cases) {
      const r = await pai(t.context, ['render', 'env', AGENT, ...flags]);
      t.is(r.code, 0, r.stderr);
      t.deepEqual(caLines(r.stdout), expected, flags.join(' ') || 'default');
      if (flags.length === 0) t.true(r.stdout.endsWith(`AWS_CA_BUNDLE='${CA_BUNDLE_PATH}'\n`), "after the agent's own variables");
    }
    const sourced = path.join(t.context.root, 'ca-source');
    fs.mkdirSync(sourced);
    const r = await pai(t.context, ['render', 'env', AGENT, '--ca-bundle', "/opt/my certs/it's.pem"]);
    fs.writeFileSync(path.join(sourced, 'env'), r.stdout);
    const out = await new Promise<string>((resolve, reject) =>
      execFile('sh', ['-c', 'set -a; . ./env; printf %s "$SSL_CERT_FILE|$GIT_SSL_CAINFO"'], { cwd: sourced }, (err, stdout) =>
        err ? reject(new Error(err.message)) : resolve(stdout),
      ),
    );
    t.is(out, "/opt/my certs/it's.pem|/opt/my certs/it's.pem", 'the shell reads the path back exactly');
  },
);

test.serial('a relative or malformed --ca-bundle is refused (CLI 2, API 422), with no value printed', async (t) => {
  const cli = await pai(t.context, ['render', 'env', AGENT, '--ca-bundle', 'certs/bundle.pem']);
  t.deepEqual(
    [cli.code, cli.stdout, cli.stderr],
    [2, '', 'error: --ca-bundle must be an absolute path in the agent container, got "certs/bundle.pem"\n'],
  );
  for (const bad of ['certs/bundle.pem', '/etc/pai/a\nb.pem', '']) {
    const res = await api(
      t.context.server.adminUrl,
      t.context.renderer,
      'GET',
      `/v1/agents/${AGENT}/env?caBundle=${encodeURIComponent(bad)}`,
    );
    assertApiError(t, res, 422, 'invalid');
    t.false(holdsAValue(res.text));
  }
});

test.serial("an agent's own SSL_CERT_FILE (or any of the six) wins over the rendered one", async (t) => {
  const doc = {
    apiVersion: 'pai.io/v1',
    kind: 'Agent',
    metadata: { name: 'own-ca-bot' },
    spec: {
      env: [
        { name: 'SSL_CERT_FILE', value: '/etc/ssl/my-bundle.pem' },
        { name: 'NODE_EXTRA_CA_CERTS', secretRef: { name: 'shell-text', key: 'equals' } },
      ],
    },
  };
  assertOk(
    t,
    await pai(t.context, ['apply', '-f', file(t.context, 'own-ca.yaml', YAML.stringify(doc))]),
    'agent/own-ca-bot created\n',
  );
  const r = await pai(t.context, ['render', 'env', 'own-ca-bot', '-o', 'json']);
  t.is(r.code, 0, r.stderr);
  const items = (JSON.parse(r.stdout) as { items: { name: string; value: string }[] }).items;
  t.deepEqual(items, [
    { name: 'SSL_CERT_FILE', value: '/etc/ssl/my-bundle.pem' },
    { name: 'NODE_EXTRA_CA_CERTS', value: '=a=b==c=' },
    ...CA_BUNDLE_ENV_VARS.filter((n) => n !== 'SSL_CERT_FILE' && n !== 'NODE_EXTRA_CA_CERTS').map((name) => ({
      name,
      value: CA_BUNDLE_PATH,
    })),
  ]);
});
