/**
 * Builders of resource documents and the `rejects` macro, shared by the parseResource suites
 * (resources-validate, resources-validate-specs): each case names the field and the message
 * expected among the reported problems.
 */
import test from 'ava';
import { isPaiError } from '../../src/errors.js';
import type { Problem } from '../../src/resources/fields.js';
import { parseResource } from '../../src/resources/validate.js';

export type Doc = Record<string, unknown>;
export const mp = (spec: unknown, metadata: unknown = { name: 'm' }): Doc => ({
  apiVersion: 'pai/v1',
  kind: 'ModelProvider',
  metadata,
  spec,
});
export const provider = (spec: unknown): Doc => ({ apiVersion: 'pai/v1', kind: 'Provider', metadata: { name: 'p' }, spec });
export const agent = (spec: unknown): Doc => ({ apiVersion: 'pai/v1', kind: 'Agent', metadata: { name: 'a' }, spec });
export const openai = (extra: Doc = {}) => mp({ type: 'openai', apiKeySecretRef: { name: 'k', key: 'api-key' }, ...extra });
export const http = (auth: Doc = {}, extra: Doc = {}) =>
  provider({ type: 'http', hosts: ['api.example.com'], auth: { secretRef: 's', ...auth }, ...extra });
export const github = (auth: Doc = {}, extra: Doc = {}) =>
  provider({ type: 'github', auth: { secretRef: 's', ...auth }, ...extra });

/** The problems parseResource reports for `doc` (fails the test when it accepts it or throws something else). */
export function problemsOf(doc: unknown): Problem[] {
  try {
    parseResource(doc, 'request body');
  } catch (err) {
    if (!isPaiError(err, 'invalid')) throw err;
    return (err.details?.['problems'] as Problem[] | undefined) ?? [];
  }
  throw new Error('parseResource accepted the document');
}

export const rejects = test.macro({
  exec(t, doc: unknown, field: string, message: RegExp) {
    const problems = problemsOf(doc);
    const hit = problems.find((p) => p.field === field && message.test(p.message));
    t.truthy(hit, `expected ${field}: ${String(message)}, got ${JSON.stringify(problems)}`);
  },
  title: (title = '', _doc, field: string) => `rejects ${field || '(document)'}: ${title}`,
});
