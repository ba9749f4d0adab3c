/**
 * The tables of the resources API suite (test/admin-resources-api.test.ts): request bodies refused
 * as bad input, resources refused for broken references (with the brokenReferences expected), and
 * secret writes refused because resources reference the secret (with the referencedBy expected).
 * They expect the suite's secrets: gemini-key {api-key}, github-pat {token, spare},
 * slack-credentials {webhook-url, spare}, aws-creds {access_key_id}.
 */
import { paiResource } from './injector.js';

/** A gemini ModelProvider reading `ref` (default gemini-key/api-key), with `extra` spec fields. */
export const mp = (name: string, ref: Record<string, unknown> = { name: 'gemini-key', key: 'api-key' }, extra = {}) =>
  paiResource('ModelProvider', name, { provider: 'gemini', apiKeySecretRef: ref, ...extra });
/** A github Provider with `auth` (default: github-pat, secretKey left to its default). */
export const github = (name: string, auth: Record<string, unknown> = { secretRef: 'github-pat' }) =>
  paiResource('Provider', name, { type: 'github', auth });
/** An Agent with `spec`. */
export const agent = (name: string, spec: Record<string, unknown>) => paiResource('Agent', name, spec);

/** A PUT refused as bad input: status, code, message, and (when given) every other field of the error. */
export interface BadBody {
  readonly what: string;
  readonly path: string;
  /** A document, or raw JSON text sent as application/json. */
  readonly body: unknown;
  readonly status: number;
  readonly code: string;
  readonly message: RegExp;
  readonly details?: unknown;
}

/** Bad input for PUT /v1/{kind}/{name}: refused, naming the field, whether a dry run or not. */
export const BAD_BODIES: readonly BadBody[] = [
  {
    what: 'an unknown kind',
    path: '/v1/agents/bot',
    body: { apiVersion: 'pai/v1', kind: 'Widget', metadata: { name: 'bot' }, spec: {} },
    status: 422,
    code: 'invalid',
    message: /kind: must be one of ModelProvider, Provider, Agent/,
  },
  {
    what: 'an unknown apiVersion',
    path: '/v1/agents/bot',
    body: { apiVersion: 'pai/v2', kind: 'Agent', metadata: { name: 'bot' }, spec: {} },
    status: 422,
    code: 'invalid',
    message: /^invalid Agent "bot" \(request body\): apiVersion: must be "pai\.io\/v1" \(or the earlier "pai\/v1"\)$/,
    details: {
      document: 'request body',
      kind: 'Agent',
      name: 'bot',
      problems: [{ field: 'apiVersion', message: 'must be "pai.io/v1" (or the earlier "pai/v1")' }],
    },
  },
  {
    what: 'no apiVersion',
    path: '/v1/agents/bot',
    body: { kind: 'Agent', metadata: { name: 'bot' } },
    status: 422,
    code: 'invalid',
    message: /apiVersion: required/,
  },
  {
    what: 'unknown fields, each named (with a suggestion when one is close)',
    path: '/v1/agents/bot',
    body: { apiVersion: 'pai/v1', kind: 'Agent', metadata: { name: 'bot', uid: 'x' }, spec: { envv: [] }, status: {} },
    status: 422,
    code: 'invalid',
    message: /3 problems: /,
    details: {
      document: 'request body',
      kind: 'Agent',
      name: 'bot',
      problems: [
        { field: 'status', message: 'unknown field (known fields: apiVersion, kind, metadata, spec)' },
        { field: 'metadata.uid', message: 'unknown field (known fields: name, namespace, labels, annotations)' },
        { field: 'spec.envv', message: 'unknown field (did you mean "env"?)' },
      ],
    },
  },
  {
    what: 'an unknown field in a Provider’s auth',
    path: '/v1/providers/github',
    body: github('github', { secretRef: 'github-pat', token: 'inline' }),
    status: 422,
    code: 'invalid',
    message: /spec\.auth\.token: unknown field/,
  },
  {
    what: 'an env name that is not ^[A-Z_][A-Z0-9_]*$',
    path: '/v1/agents/bot',
    body: agent('bot', { env: [{ name: 'slack-webhook', secretRef: { name: 'slack-credentials', key: 'webhook-url' } }] }),
    status: 422,
    code: 'invalid',
    message: /spec\.env\[0\]\.name: must match \^\[A-Z_\]\[A-Z0-9_\]\*\$/,
  },
  {
    what: 'an env name given twice',
    path: '/v1/agents/bot',
    body: agent('bot', {
      env: [
        { name: 'SLACK', secretRef: { name: 'slack-credentials', key: 'webhook-url' } },
        { name: 'SLACK', secretRef: { name: 'slack-credentials', key: 'spare' } },
      ],
    }),
    status: 422,
    code: 'invalid',
    message: /spec\.env\[1\]\.name: duplicate of spec\.env\[0\]\.name/,
  },
  {
    what: 'an Agent naming a Provider twice',
    path: '/v1/agents/bot',
    body: agent('bot', { providers: ['github', 'github'] }),
    status: 422,
    code: 'invalid',
    message: /spec\.providers\[1\]: duplicate of spec\.providers\[0\]/,
  },
  {
    what: 'a ModelProvider under /v1/agents',
    path: '/v1/agents/gemini',
    body: mp('gemini'),
    status: 422,
    code: 'invalid',
    message: /^kind ModelProvider does not belong under \/v1\/agents \(expected Agent\)$/,
    details: { field: 'kind' },
  },
  {
    what: 'an Agent under /v1/providers',
    path: '/v1/providers/bot',
    body: agent('bot', {}),
    status: 422,
    code: 'invalid',
    message: /^kind Agent does not belong under \/v1\/providers \(expected Provider\)$/,
  },
  {
    what: 'metadata.name other than the path’s',
    path: '/v1/modelproviders/other',
    body: mp('gemini'),
    status: 422,
    code: 'invalid',
    message: /^metadata\.name "gemini" does not match the path name "other"$/,
    details: { field: 'metadata.name' },
  },
  {
    what: 'a name that is not DNS-1123',
    path: '/v1/agents/Bot_1',
    body: agent('Bot_1', {}),
    status: 422,
    code: 'invalid',
    message: /metadata\.name: must consist of lower-case letters/,
  },
  {
    what: 'a Provider without spec',
    path: '/v1/providers/github',
    body: { apiVersion: 'pai/v1', kind: 'Provider', metadata: { name: 'github' } },
    status: 422,
    code: 'invalid',
    message: /spec: required/,
  },
  {
    what: 'a ModelProvider whose apiKeySecretRef has no key',
    path: '/v1/modelproviders/gemini',
    body: mp('gemini', { name: 'gemini-key' }),
    status: 422,
    code: 'invalid',
    message: /spec\.apiKeySecretRef\.key: required/,
  },
  {
    what: 'a spec that is a list',
    path: '/v1/agents/bot',
    body: { apiVersion: 'pai/v1', kind: 'Agent', metadata: { name: 'bot' }, spec: [] },
    status: 422,
    code: 'invalid',
    message: /spec: must be a mapping \(got a list\)/,
  },
  { what: 'a JSON list', path: '/v1/agents/bot', body: '[]', status: 400, code: 'bad_request', message: /must be a JSON object/ },
  {
    what: 'a JSON string',
    path: '/v1/agents/bot',
    body: '"bot"',
    status: 400,
    code: 'bad_request',
    message: /must be a JSON object/,
  },
  {
    what: 'malformed JSON',
    path: '/v1/agents/bot',
    body: '{"kind": ',
    status: 400,
    code: 'bad_request',
    message: /not valid JSON/,
  },
  {
    what: 'a body of 4 MiB and more',
    path: '/v1/agents/bot',
    body: JSON.stringify(agent('bot', { x: 'y'.repeat(4 * 1024 * 1024) })),
    status: 413,
    code: 'too_large',
    message: /exceeds the limit of 4194304 bytes/,
  },
  {
    what: 'annotations over 256 KiB',
    path: '/v1/agents/bot',
    body: { ...agent('bot', {}), metadata: { name: 'bot', annotations: { note: 'n'.repeat(300 * 1024) } } },
    status: 422,
    code: 'invalid',
    message: /metadata\.annotations: must be at most 262144 bytes in total/,
  },
];

/** A resource whose references do not resolve, and the broken references the 422 names (field, message). */
export interface BrokenCase {
  readonly what: string;
  readonly doc: Record<string, unknown>;
  readonly broken: readonly { readonly field: string; readonly message: string }[];
}

/** Resources refused with 422 broken_reference. */
export const BROKEN_CASES: readonly BrokenCase[] = [
  {
    what: 'a ModelProvider whose secret does not exist',
    doc: mp('gemini', { name: 'no-such-secret', key: 'api-key' }),
    broken: [{ field: 'spec.apiKeySecretRef.name', message: 'secret "no-such-secret" does not exist' }],
  },
  {
    what: 'a ModelProvider whose key does not exist',
    doc: mp('gemini', { name: 'gemini-key', key: 'apikey' }),
    broken: [
      {
        field: 'spec.apiKeySecretRef.key',
        message: 'secret "gemini-key" is missing key "apikey" (provider gemini needs "apikey")',
      },
    ],
  },
  {
    what: 'a Provider whose secret does not exist',
    doc: github('github', { secretRef: 'no-such-secret', secretKey: 'token' }),
    broken: [{ field: 'spec.auth.secretRef', message: 'secret "no-such-secret" does not exist' }],
  },
  {
    what: 'a Provider without secretKey whose secret has no "token"',
    doc: github('github', { secretRef: 'gemini-key' }),
    broken: [
      {
        field: 'spec.auth.secretKey',
        message: 'secret "gemini-key" is missing key "token" (type github needs "token", the default of spec.auth.secretKey)',
      },
    ],
  },
  {
    what: 'a Provider whose secretKey does not exist',
    doc: github('github', { secretRef: 'github-pat', secretKey: 'pat' }),
    broken: [{ field: 'spec.auth.secretKey', message: 'secret "github-pat" is missing key "pat" (type github needs "pat")' }],
  },
  {
    what: 'an aws Provider whose secret lacks a key the type requires',
    doc: paiResource('Provider', 'aws', { type: 'aws', auth: { secretRef: 'aws-creds' } }),
    broken: [
      {
        field: 'spec.auth.secretRef',
        message: 'secret "aws-creds" is missing key "secret_access_key" (type aws needs "access_key_id", "secret_access_key")',
      },
    ],
  },
  {
    what: 'an Agent whose every reference is broken',
    doc: agent('bot', {
      models: ['no-such-model/m1'],
      providers: ['no-such-provider'],
      env: [
        { name: 'A', secretRef: { name: 'no-such-secret', key: 'k' } },
        { name: 'B', secretRef: { name: 'slack-credentials', key: 'no-such-key' } },
        { name: 'C', secretRef: { name: 'slack-credentials', key: 'webhook-url' } },
      ],
    }),
    broken: [
      { field: 'spec.models[0]', message: 'ModelProvider "no-such-model" does not exist' },
      { field: 'spec.providers[0]', message: 'Provider "no-such-provider" does not exist' },
      { field: 'spec.env[0].secretRef.name', message: 'secret "no-such-secret" does not exist' },
      {
        field: 'spec.env[1].secretRef.key',
        message: 'secret "slack-credentials" is missing key "no-such-key" (env B needs "no-such-key")',
      },
    ],
  },
];

/** The API path of a resource document. */
export const pathOf = (doc: Record<string, unknown>): string => {
  const plural = { Agent: 'agents', Provider: 'providers', ModelProvider: 'modelproviders' }[doc['kind'] as string] ?? '';
  return `/v1/${plural}/${(doc['metadata'] as { name: string }).name}`;
};

/** A secret write refused with 409 because resources need what it would remove. */
export interface RefusedSecretWrite {
  readonly what: string;
  readonly method: string;
  readonly path: string;
  readonly body?: unknown;
  readonly message: RegExp;
  readonly referencedBy: unknown;
}

/** Deleting or shrinking secrets that the suite's resources reference (after the seed's shapes are applied). */
export const REFUSED_SECRET_WRITES: readonly RefusedSecretWrite[] = [
  {
    what: 'deleting a secret an Agent references',
    method: 'DELETE',
    path: '/v1/secrets/slack-credentials',
    message: /^cannot delete secret "slack-credentials": it is referenced by Agent\/triage-bot \(env\[\]\.secretRef\)$/,
    referencedBy: [{ kind: 'Agent', name: 'triage-bot', via: 'env[].secretRef', keys: ['webhook-url'] }],
  },
  {
    what: 'deleting a secret a ModelProvider references',
    method: 'DELETE',
    path: '/v1/secrets/gemini-key',
    message: /^cannot delete secret "gemini-key": it is referenced by ModelProvider\/gemini \(apiKeySecretRef\)$/,
    referencedBy: [{ kind: 'ModelProvider', name: 'gemini', via: 'apiKeySecretRef', keys: ['api-key'] }],
  },
  {
    what: 'deleting a secret two Providers and an Agent reference',
    method: 'DELETE',
    path: '/v1/secrets/github-pat',
    message:
      /it is referenced by Provider\/github \(auth\.secretRef\), Provider\/github-default \(auth\.secretRef\), Agent\/second-bot/,
    referencedBy: [
      { kind: 'Provider', name: 'github', via: 'auth.secretRef', keys: ['token'] },
      { kind: 'Provider', name: 'github-default', via: 'auth.secretRef', keys: ['token'] },
      { kind: 'Agent', name: 'second-bot', via: 'env[].secretRef', keys: ['spare'] },
    ],
  },
  {
    what: 'replacing a secret without the key an Agent uses',
    method: 'PUT',
    path: '/v1/secrets/slack-credentials',
    body: { data: { spare: 'x', webhook: 'renamed' } },
    message: /^cannot replace secret "slack-credentials": it is referenced by Agent\/triage-bot \(env\[\]\.secretRef\)$/,
    referencedBy: [{ kind: 'Agent', name: 'triage-bot', via: 'env[].secretRef', keys: ['webhook-url'] }],
  },
  {
    what: 'replacing a secret without the defaulted "token" Providers use (only those are named)',
    method: 'PUT',
    path: '/v1/secrets/github-pat',
    body: { data: { spare: 'x', pat: 'renamed' } },
    message:
      /^cannot replace secret "github-pat": it is referenced by Provider\/github \(auth\.secretRef\), Provider\/github-default \(auth\.secretRef\)$/,
    referencedBy: [
      { kind: 'Provider', name: 'github', via: 'auth.secretRef', keys: ['token'] },
      { kind: 'Provider', name: 'github-default', via: 'auth.secretRef', keys: ['token'] },
    ],
  },
  {
    what: 'a PATCH removing the key a ModelProvider uses',
    method: 'PATCH',
    path: '/v1/secrets/gemini-key',
    body: { data: { 'new-key': 'x' }, remove: ['api-key'] },
    message: /^cannot patch secret "gemini-key": it is referenced by ModelProvider\/gemini \(apiKeySecretRef\)$/,
    referencedBy: [{ kind: 'ModelProvider', name: 'gemini', via: 'apiKeySecretRef', keys: ['api-key'] }],
  },
];
