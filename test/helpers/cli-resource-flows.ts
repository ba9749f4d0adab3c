/**
 * The resources CLI flows (`pai apply -f docs/examples/resources.yaml`, get/describe of agents,
 * providers and modelproviders, delete protection and --force, `pai render env` sourced by sh),
 * for any store: the real `pai` binary against a running `pai serve`, asserting exact output.
 * They run in this order, serially, on one server, and expect the secret `gemini-key` (key
 * `api-key`) to exist already, as the seed flow leaves it; they create `github-pat` and
 * `slack-credentials`, and delete what they applied at the end.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { ExecutionContext } from 'ava';
import YAML from 'yaml';
import { type CliStep, type CliTarget, assertOk, file, pai } from './cli-target.js';
import { PAI_BIN, ROOT } from './process.js';
import { CA_BUNDLE_ENV_VARS } from '../../src/resources/agent-trust.js';

export const EXAMPLES = path.join(ROOT, 'docs/examples/resources.yaml');
export const GITHUB_TOKEN = 'ghp_16C7e42F292c6912E7710c838347Ae178B4a';
export const SLACK_WEBHOOK = 'https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX';

/**
 * A webhook value a shell would mangle if rendering quoted it wrongly: quotes, `$`, backticks,
 * backslashes, CR/LF, a tab, invalid UTF-8 and a trailing newline (no NUL: no shell variable holds one).
 */
export const AWKWARD_WEBHOOK = Buffer.concat([
  Buffer.from(`${SLACK_WEBHOOK}?q='it''s'&x="$HOME" \`id\` $(id) \\n\\\\ \t\r\nline two\n`),
  Buffer.from([0xff, 0xc3, 0x28, 0x0a]),
]);

/** The documents of docs/examples/resources.yaml, by kind. */
export function exampleDocs(): Record<'Agent' | 'Provider' | 'ModelProvider', unknown> {
  const docs = YAML.parseAllDocuments(fs.readFileSync(EXAMPLES, 'utf8')).map((d) => d.toJS() as { kind: string });
  const byKind = (kind: string): unknown => docs.find((d) => d.kind === kind);
  return { Agent: byKind('Agent'), Provider: byKind('Provider'), ModelProvider: byKind('ModelProvider') };
}

/** Apply before the secrets exist: what resolves is applied, each broken reference is named, exit 1. */
export async function applyBeforeSecrets(t: ExecutionContext, target: CliTarget): Promise<void> {
  const r = await pai(target, ['apply', '-f', EXAMPLES]);
  t.is(r.code, 1);
  t.is(r.stdout, 'modelprovider/gemini created\n');
  t.is(
    r.stderr,
    `error: provider/github (document 2 of ${EXAMPLES}): Provider "github" has broken references: ` +
      'spec.auth.secretRef: secret "github-pat" does not exist\n' +
      `error: agent/triage-bot (document 3 of ${EXAMPLES}): Agent "triage-bot" has broken references: ` +
      'spec.providers[0]: Provider "github" does not exist; spec.env[1].secretRef.name: secret "slack-credentials" does not exist\n' +
      'error: 2 of 3 documents were not applied (provider/github, agent/triage-bot); applied: modelprovider/gemini\n',
  );
  const agents = await pai(target, ['get', 'agents']);
  t.is(agents.code, 0);
  t.is(agents.stdout, '');
  t.is(agents.stderr, 'No agents found.\n');
}

/** The secrets the example needs, then apply: created; again: unchanged. */
export async function applyExamples(t: ExecutionContext, target: CliTarget): Promise<void> {
  assertOk(
    t,
    await pai(target, ['add', 'secret', 'github-pat', '--from-literal', `token=${GITHUB_TOKEN}`]),
    'secret/github-pat created\n',
  );
  assertOk(
    t,
    await pai(target, ['add', 'secret', 'slack-credentials', '--from-literal', `webhook-url=${SLACK_WEBHOOK}`]),
    'secret/slack-credentials created\n',
  );
  assertOk(
    t,
    await pai(target, ['apply', '-f', EXAMPLES]),
    'modelprovider/gemini unchanged\nprovider/github created\nagent/triage-bot created\n',
  );
  assertOk(
    t,
    await pai(target, ['apply', '-f', EXAMPLES]),
    'modelprovider/gemini unchanged\nprovider/github unchanged\nagent/triage-bot unchanged\n',
  );
}

/** `doc` as the server stores and prints it: in namespace default. */
function inDefault(doc: unknown): unknown {
  const d = doc as { metadata: Record<string, unknown> };
  return { ...d, metadata: { ...d.metadata, namespace: 'default' } };
}

/** Tables, -o yaml|json|name (yaml taken back by apply unchanged), and describe of each kind, in Pai's words too. */
export async function getAndDescribe(t: ExecutionContext, target: CliTarget): Promise<void> {
  const docs = exampleDocs();
  assertOk(
    t,
    await pai(target, ['get', 'agents']),
    /^NAME {8}MODELS {19}PROVIDERS {2}ENV {2}AGE\ntriage-bot {2}gemini\/gemini-2\.5-flash {2}github {5}2 {4}\d+s\n$/,
  );
  for (const alias of ['services', 'providers', 'service']) {
    assertOk(
      t,
      await pai(target, ['get', alias]),
      /^NAME {4}TYPE {4}HOST {44}SECRET {12}LAST USED {2}AGE\ngithub {2}github {2}api\.github\.com, uploads\.github\.com, github\.com {2}github-pat\/token {2}— {10}\d+s\n$/,
    );
  }
  for (const alias of ['model-providers', 'modelproviders', 'modelprovider', 'mp']) {
    assertOk(
      t,
      await pai(target, ['get', alias]),
      /^NAME {4}PROVIDER {2}ENDPOINT {2}MAX\/DAY {2}LAST USED {2}AGE\ngemini {2}gemini {4}— {9}— {8}— {10}\d+s\n$/,
    );
  }
  const yaml = await pai(target, ['get', 'agents', '-o', 'yaml']);
  assertOk(t, yaml, /^apiVersion: pai\.io\/v1\nkind: Agent\n/);
  t.deepEqual(YAML.parse(yaml.stdout), inDefault(docs.Agent), 'the stored agent is the applied one, in namespace default');
  assertOk(t, await pai(target, ['apply', '-f', '-'], yaml.stdout), 'agent/triage-bot unchanged\n');
  const json = await pai(target, ['get', 'services', '-o', 'json']);
  assertOk(t, json, /^\[/);
  t.deepEqual(JSON.parse(json.stdout), [inDefault(docs.Provider)]);
  const one = await pai(target, ['get', 'model-provider', 'gemini', '-o', 'json']);
  t.deepEqual(JSON.parse(one.stdout), inDefault(docs.ModelProvider));
  assertOk(t, await pai(target, ['get', 'mp', '-o', 'name']), 'modelprovider/gemini\n');

  const agent = await pai(target, ['describe', 'agent', 'triage-bot']);
  assertOk(
    t,
    agent,
    /^Name: {6}triage-bot\nNamespace: default\nKind: {6}Agent\nModels: {11}gemini\/gemini-2\.5-flash\nProviders: {8}github\nEgress: {11}allow\n/,
  );
  t.regex(
    agent.stdout,
    /^Env:\n {2}LOG_LEVEL = \(literal\)\n {2}SLACK_WEBHOOK <- secret slack-credentials, key webhook-url\nVersion: {3}1\n/m,
  );
  t.regex(agent.stdout, /^Created: {3}\d{4}-\d\d-\d\dT\S+Z \(\d+s ago\)\nUpdated: {3}\S+ \(\d+s ago\)\n$/m);
  const provider = await pai(target, ['describe', 'provider', 'github']);
  assertOk(
    t,
    provider,
    /^Name: {6}github\nNamespace: default\nKind: {6}Provider\nType: {6}github \(auth pat\)\nHosts: {5}api\.github\.com, uploads\.github\.com, github\.com\n/,
  );
  t.regex(provider.stdout, /^Secret: {4}github-pat\/token \(auth\.secretRef\)\nVersion: {3}1\n/m);
  const mp = await pai(target, ['describe', 'model-provider', 'gemini']);
  assertOk(
    t,
    mp,
    /^Name: {6}gemini\nNamespace: default\nKind: {6}ModelProvider\nProvider: {2}gemini\nEndpoint: {2}— \(the provider's own\)\n/,
  );
  t.regex(mp.stdout, /^Secret: {4}gemini-key\/api-key \(apiKeySecretRef\)\n/m);
  const slack = await pai(target, ['describe', 'secret', 'slack-credentials']);
  assertOk(t, slack, /^Keys:\n {2}webhook-url {2}\d+ bytes\nReferenced by:\n {2}Agent\/triage-bot \(env\[\]\.secretRef\)\n$/m);
  const gemini = await pai(target, ['describe', 'secret', 'gemini-key']);
  assertOk(t, gemini, /^Referenced by:\n {2}ModelProvider\/gemini \(\S+\)\n(?:Last used: \S+ \(\d+[smhd] ago\)\n)?$/m);
}

/** What a launcher does with `pai render env`: write it to a file, source it with sh, read the variable back (bytes). */
function renderAndSource(target: CliTarget, envFile: string): Promise<Buffer> {
  const script = 'set -e; "$0" "$1" render env triage-bot > "$2"; . "$2"; printf %s "$SLACK_WEBHOOK"';
  return new Promise((resolve, reject) => {
    execFile(
      'sh',
      ['-c', script, process.execPath, PAI_BIN, envFile],
      { env: target.server.env, encoding: 'buffer' },
      (err, stdout, stderr) => (err ? reject(new Error(`render and source failed: ${stderr.toString()}`)) : resolve(stdout)),
    );
  });
}

/** Deletion is refused while referenced (409); a rotated value renders exactly; --force deletes and warns. */
export async function protectAndRender(t: ExecutionContext, target: CliTarget): Promise<void> {
  const refused: [string[], string][] = [
    [
      ['delete', 'secret', 'slack-credentials'],
      'error: cannot delete secret "slack-credentials": it is referenced by Agent/triage-bot (env[].secretRef)\n',
    ],
    [['delete', 'provider', 'github'], 'error: cannot delete Provider "github": agents triage-bot use it\n'],
    [['delete', 'modelprovider', 'gemini'], 'error: cannot delete ModelProvider "gemini": agents triage-bot use it\n'],
    [
      ['add', 'secret', 'slack-credentials', '--from-literal', 'other=x', '--overwrite'],
      'error: cannot replace secret "slack-credentials": it is referenced by Agent/triage-bot (env[].secretRef)\n',
    ],
  ];
  for (const [args, stderr] of refused) {
    const r = await pai(target, args);
    t.is(r.code, 1, args.join(' '));
    t.is(r.stdout, '');
    t.is(r.stderr, stderr);
  }
  assertOk(t, await pai(target, ['get', 'providers', '-o', 'name']), 'provider/github\n');

  assertOk(
    t,
    await pai(target, ['add', 'secret', 'slack-credentials', '--from-file', 'webhook-url=-', '--overwrite'], AWKWARD_WEBHOOK),
    'secret/slack-credentials configured\n',
  );
  const envFile = file(target, 'triage-bot.env', '');
  const sourced = await renderAndSource(target, envFile);
  t.true(sourced.equals(AWKWARD_WEBHOOK), 'sh reads back exactly the stored bytes');
  t.is(fs.readFileSync(envFile, 'latin1').split('\n')[0], '# pai render env triage-bot: secret versions slack-credentials@2');
  const json = await pai(target, ['render', 'env', 'triage-bot', '-o', 'json']);
  t.is(json.code, 0, json.stderr);
  const rendered = JSON.parse(json.stdout) as { secretVersions: unknown; items: { name: string; valueBase64?: string }[] };
  t.deepEqual(rendered.secretVersions, { 'slack-credentials': 2 });
  t.deepEqual(
    rendered.items.map((i) => i.name),
    ['LOG_LEVEL', 'SLACK_WEBHOOK', ...CA_BUNDLE_ENV_VARS],
  );
  t.true(Buffer.from(rendered.items[1]?.valueBase64 ?? '', 'base64').equals(AWKWARD_WEBHOOK), 'not UTF-8: base64 in JSON');
  const nobody = await pai(target, ['render', 'env', 'nobody']);
  t.deepEqual([nobody.code, nobody.stdout, nobody.stderr], [1, '', 'error: agent "nobody" not found\n']);

  const forced = await pai(target, ['delete', 'secret', 'slack-credentials', '--force']);
  t.is(forced.code, 0);
  t.is(forced.stdout, 'secret/slack-credentials deleted\n');
  t.is(
    forced.stderr,
    'warning: these resources now reference a missing secret and will be denied until it is restored:\n' +
      '  Agent/triage-bot (env[].secretRef)\n',
  );
  const broken = await pai(target, ['render', 'env', 'triage-bot']);
  t.is(broken.code, 1);
  t.is(
    broken.stderr,
    'error: cannot render env of agent "triage-bot": spec.env[1] (SLACK_WEBHOOK): secret "slack-credentials" does not exist\n',
  );
}

/** Deletes what the flows applied, agent first (then nothing references the providers). */
export async function cleanUp(t: ExecutionContext, target: CliTarget): Promise<void> {
  assertOk(t, await pai(target, ['delete', 'agent', 'triage-bot']), 'agent/triage-bot deleted\n');
  assertOk(t, await pai(target, ['delete', 'provider', 'github']), 'provider/github deleted\n');
  assertOk(t, await pai(target, ['delete', 'modelprovider', 'gemini']), 'modelprovider/gemini deleted\n');
  for (const type of ['agents', 'providers', 'modelproviders']) {
    const r = await pai(target, ['get', type]);
    t.deepEqual([r.code, r.stdout, r.stderr], [0, '', `No ${type} found.\n`]);
  }
}

/** The resource flows in order. */
export const RESOURCE_FLOWS = [
  { title: 'apply before the secrets exist applies what resolves and names each broken reference', run: applyBeforeSecrets },
  { title: 'apply -f docs/examples/resources.yaml once its secrets exist: created, then unchanged', run: applyExamples },
  { title: 'get agents, providers, modelproviders (table, yaml, json, name) and describe each', run: getAndDescribe },
  { title: 'delete protection (409), render env sourced by sh gives the exact bytes, delete --force', run: protectAndRender },
  { title: 'delete what was applied', run: cleanUp },
] as const;

/**
 * A transcript with what may differ between two servers taken out: times, ages, and the paths of
 * the targets' scratch files. What is left is what the CLI printed, exit codes included.
 */
export function normalizedTranscript(steps: readonly CliStep[], target: CliTarget): unknown[] {
  const clean = (text: string): string =>
    text
      .split(target.files)
      .join('<files>')
      .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/g, '<time>')
      .replace(/\(\d+[smhd] ago\)/g, '(<age> ago)')
      .replace(/ {2}\d+[smhd]$/gm, '  <age>')
      // When the injector's usage counts were last flushed is timing, not behaviour.
      .replace(/^Last used: .*\n/gm, '');
  return steps.map((s) => ({
    args: s.args.map(clean),
    code: s.result.code,
    stdout: clean(s.result.stdout),
    stderr: clean(s.result.stderr),
  }));
}
