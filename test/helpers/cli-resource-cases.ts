/**
 * The bad-input cases of the resources CLI suite (test/cli-resources.test.ts): manifests and
 * commands that fail with a clear message on stderr (exit 1, or 2 for usage), print nothing on
 * stdout and change nothing. They expect the secret `aws-partial` (access_key_id only).
 */
import YAML from 'yaml';

const MIB = 1024 * 1024;

/** One YAML document. */
export const doc = (kind: string, name: string, spec: unknown, extra: Record<string, unknown> = {}): string =>
  YAML.stringify({ apiVersion: 'pai/v1', kind, metadata: { name }, spec, ...extra });

/** One Agent document. */
export const agentDoc = (name: string, spec: unknown = {}) => doc('Agent', name, spec);

/** Billion laughs: nine levels of nine aliases (9^9 strings once expanded). */
const BOMB = ['a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]']
  .concat(
    'bcdefghi'.split('').map((c, i) => {
      const prev = 'abcdefghi'[i] ?? 'a';
      return `${c}: &${c} [${Array(9).fill(`*${prev}`).join(', ')}]`;
    }),
  )
  .join('\n');

/** An anchor of 200 kB used 60 times: few aliases, 12 MB once expanded. */
const WIDE = `${agentDoc('wide').trimEnd()}\nx: &big "${'x'.repeat(200_000)}"\ny: [${Array(60).fill('*big').join(', ')}]\n`;

/** An Agent of exactly 10 MiB: its annotation fills it. */
function tenMiB(): string {
  const head = 'apiVersion: pai/v1\nkind: Agent\nmetadata:\n  name: huge\n  annotations:\n    note: "';
  const tail = '"\n';
  return head + 'n'.repeat(10 * MIB - head.length - tail.length) + tail;
}

/** One bad-input case. */
export interface BadApply {
  readonly what: string;
  /** The manifest, written to a file passed with -f (omitted: `args` says what to run). */
  readonly content?: string;
  readonly args?: (file: string) => string[];
  readonly input?: string;
  readonly code: 1 | 2;
  /** The exact stderr, given the manifest's path. */
  readonly stderr: (file: string) => string;
}

/** The stderr of an apply refused before anything was sent: each line indented, FILE replaced by `f`. */
const nothing = (f: string, ...lines: string[]): string =>
  `error: nothing was applied; fix these documents first:\n${lines.map((l) => `  ${l.replaceAll('FILE', f)}\n`).join('')}`;

/** Bad manifests and commands, each with the exact stderr expected. */
export const BAD_APPLIES: readonly BadApply[] = [
  {
    what: 'an unknown kind',
    content: doc('Widget', 'w', {}),
    code: 1,
    stderr: (f) => nothing(f, 'document 1 of FILE:', '  kind: must be one of ModelProvider, Provider, Agent'),
  },
  {
    what: 'an unknown apiVersion',
    content: agentDoc('bot').replace('pai/v1', 'pai/v1beta1'),
    code: 1,
    stderr: (f) => nothing(f, 'document 1 of FILE:', '  apiVersion: must be "pai.io/v1" (or the earlier "pai/v1")'),
  },
  {
    what: 'unknown fields (each named, with a suggestion when one is close)',
    content: doc('Provider', 'gh', { type: 'github', auth: { secretRef: 'github-pat', secretKye: 'token' } }, { status: {} }),
    code: 1,
    stderr: (f) =>
      nothing(
        f,
        'document 1 of FILE:',
        '  status: unknown field (known fields: apiVersion, kind, metadata, spec)',
        '  spec.auth.secretKye: unknown field (did you mean "secretKey"?)',
      ),
  },
  {
    what: 'env names that are not ^[A-Z_][A-Z0-9_]*$, or given twice',
    content: agentDoc('bot', {
      env: [
        { name: 'slack_webhook', secretRef: { name: 's', key: 'k' } },
        { name: '1ST', secretRef: { name: 's', key: 'k' } },
        { name: 'OK', secretRef: { name: 's', key: 'k' } },
        { name: 'OK', secretRef: { name: 's', key: 'other' } },
      ],
    }),
    code: 1,
    stderr: (f) =>
      nothing(
        f,
        'document 1 of FILE:',
        '  spec.env[0].name: must match ^[A-Z_][A-Z0-9_]*$',
        '  spec.env[1].name: must match ^[A-Z_][A-Z0-9_]*$',
        '  spec.env[3].name: duplicate of spec.env[2].name',
      ),
  },
  {
    what: 'an Agent naming a Provider twice',
    content: agentDoc('bot', { providers: ['github', 'gitlab', 'github'] }),
    code: 1,
    stderr: (f) => nothing(f, 'document 1 of FILE:', '  spec.providers[2]: duplicate of spec.providers[0]'),
  },
  {
    what: 'a valid document beside an invalid one (neither is applied)',
    content: `${agentDoc('fine')}---\n${agentDoc('bad', { egress: 'closed' })}`,
    code: 1,
    stderr: (f) => nothing(f, 'document 2 of FILE:', '  spec.egress: must be one of allow, deny'),
  },
  {
    what: 'YAML that is a list',
    content: '- apiVersion: pai/v1\n  kind: Agent\n',
    code: 1,
    stderr: (f) =>
      nothing(
        f,
        'document 1 of FILE is not a mapping (got a list): expected a resource with apiVersion, kind, metadata and spec',
      ),
  },
  {
    what: 'a second document that is a string',
    content: `${agentDoc('fine')}---\njust text\n`,
    code: 1,
    stderr: (f) =>
      nothing(
        f,
        'document 2 of FILE is not a mapping (got a string): expected a resource with apiVersion, kind, metadata and spec',
      ),
  },
  {
    what: 'a YAML syntax error (line and column named)',
    content: 'apiVersion: pai/v1\nkind: Agent\nmetadata: {name: bot\n',
    code: 1,
    stderr: (f) =>
      nothing(
        f,
        'FILE: document 1: YAML error at line 4, column 1: bad indentation, or a flow collection ([ or {) not closed (BAD_INDENT)',
      ),
  },
  {
    what: 'a key given twice in a mapping',
    content: 'apiVersion: pai/v1\nkind: Agent\nmetadata: {name: a}\nmetadata: {name: b}\n',
    code: 1,
    stderr: (f) => nothing(f, 'FILE: document 1: YAML error at line 4, column 1: mapping keys must be unique'),
  },
  {
    what: 'a YAML bomb (aliases expanding exponentially)',
    content: BOMB,
    code: 1,
    stderr: (f) => nothing(f, 'FILE: document 1: YAML aliases expand too much (an alias bomb?)'),
  },
  {
    what: 'aliases of a large anchor expanding past 10 MiB',
    content: WIDE,
    code: 1,
    stderr: (f) => nothing(f, 'FILE: document 1: YAML aliases expand to more than 10485760 bytes'),
  },
  {
    what: 'a document of 10 MiB',
    content: tenMiB(),
    code: 1,
    stderr: (f) =>
      nothing(f, 'document 1 of FILE:', '  metadata.annotations: must be at most 262144 bytes in total (has 10485682)'),
  },
  {
    what: 'a file over 10 MiB',
    content: `${tenMiB()}\n`,
    code: 1,
    stderr: (f) => `error: ${f} is larger than 10 MiB; refusing to read it\n`,
  },
  {
    what: 'stdin over 10 MiB',
    args: () => ['apply', '-f', '-'],
    input: `${tenMiB()}\n`,
    code: 1,
    stderr: () => nothing('', 'stdin is larger than 10 MiB (10485761 bytes)'),
  },
  {
    what: 'the same resource twice',
    content: `${agentDoc('bot')}---\n${agentDoc('bot', { egress: 'deny' })}`,
    code: 1,
    stderr: (f) => `error: nothing was applied: Agent/bot appears twice (again in document 2 of ${f})\n`,
  },
  {
    what: 'a file of comments only',
    content: '# nothing here\n---\n',
    code: 2,
    stderr: () => 'error: no documents to apply\n',
  },
  {
    what: 'a file that does not exist',
    args: (f) => ['apply', '-f', `${f}.missing`],
    code: 1,
    stderr: (f) => `error: cannot read ${f}.missing: ENOENT\n`,
  },
  { what: 'no -f', args: () => ['apply'], code: 2, stderr: () => 'error: give at least one -f FILE (or -f - for stdin)\n' },
  {
    what: 'a Provider whose secret lacks a key its type requires (refused by the server)',
    content: doc('Provider', 'aws', { type: 'aws', auth: { secretRef: 'aws-partial' } }),
    code: 1,
    stderr: (f) =>
      `error: provider/aws (document 1 of ${f}): Provider "aws" has broken references: spec.auth.secretRef: secret "aws-partial" ` +
      'is missing key "secret_access_key" (type aws needs "access_key_id", "secret_access_key")\n' +
      'error: 1 of 1 documents were not applied (provider/aws); none was applied\n',
  },
  {
    what: 'a Provider without secretKey whose secret has no "token"',
    content: doc('Provider', 'gh', { type: 'github', auth: { secretRef: 'aws-partial' } }),
    code: 1,
    stderr: (f) =>
      `error: provider/gh (document 1 of ${f}): Provider "gh" has broken references: spec.auth.secretKey: secret "aws-partial" ` +
      'is missing key "token" (type github needs "token", the default of spec.auth.secretKey)\n' +
      'error: 1 of 1 documents were not applied (provider/gh); none was applied\n',
  },
  {
    what: 'get of an unknown type',
    args: () => ['get', 'widgets'],
    code: 2,
    stderr: () =>
      'error: unknown resource type "widgets" (expected one of secrets, agents, providers, modelproviders, tokens, ca)\n',
  },
  {
    what: 'describe of an unknown agent',
    args: () => ['describe', 'agent', 'nobody'],
    code: 1,
    stderr: () => 'error: agent "nobody" not found\n',
  },
  {
    what: 'delete of an unknown provider',
    args: () => ['delete', 'provider', 'nobody'],
    code: 1,
    stderr: () => 'error: provider "nobody" not found\n',
  },
];
