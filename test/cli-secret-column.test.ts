/**
 * The SECRET column of `pai get services` (issue 16 item 7): a type that reads several fixed keys
 * (aws, azure) shows the secret alone, never a key it does not read (`aws-creds/token` was shown);
 * a one-key type shows secret/key.
 */
import test from 'ava';
import { secretOf } from '../src/cli/resource-commands.js';
import type { ModelProvider, Provider } from '../src/resources/types.js';
import { parseResource } from '../src/resources/validate.js';

const parsed = (kind: 'Provider' | 'ModelProvider', spec: Record<string, unknown>): Provider | ModelProvider =>
  parseResource({ apiVersion: 'pai.io/v1', kind, metadata: { name: 'x' }, spec }, 'test') as Provider | ModelProvider;

const rows: [string, 'Provider' | 'ModelProvider', Record<string, unknown>, string][] = [
  ['aws', 'Provider', { type: 'aws', auth: { type: 'aws-sigv4', secretRef: 'aws-creds' } }, 'aws-creds'],
  [
    'azure',
    'Provider',
    { type: 'azure', auth: { type: 'azure-client-credentials', secretRef: 'az' }, config: { tenantId: 't' } },
    'az',
  ],
  ['github', 'Provider', { type: 'github', auth: { type: 'pat', secretRef: 'gh' } }, 'gh/token'],
  ['github with secretKey', 'Provider', { type: 'github', auth: { type: 'pat', secretRef: 'gh', secretKey: 'pat' } }, 'gh/pat'],
  ['gcp', 'Provider', { type: 'gcp', auth: { type: 'gcp-service-account', secretRef: 'sa' } }, 'sa/key.json'],
  [
    'http-token',
    'Provider',
    { type: 'http-token', host: 'api.example.com', auth: { type: 'api-key', secretRef: 'k', secretKey: 'api-key' } },
    'k/api-key',
  ],
  ['ModelProvider', 'ModelProvider', { provider: 'openai', apiKeySecretRef: { name: 'oa', key: 'api-key' } }, 'oa/api-key'],
  ['vllm without a key', 'ModelProvider', { provider: 'vllm', endpoint: 'https://vllm.internal:8000' }, '<none>'],
];

for (const [title, kind, spec, want] of rows) {
  test(`${title}: ${want}`, (t) => {
    t.is(secretOf(parsed(kind, spec)), want);
  });
}
