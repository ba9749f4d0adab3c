/**
 * Helpers for the policy-core suites: build a PolicyRequest like the injector would, and print a
 * resolver's answer in one line so that table rows read as "GET /repos/o/r → repo:read @ o/r".
 */
import type { NormalFormOptions } from '../../src/policy/path.js';
import { toPolicyRequest } from '../../src/policy/request.js';
import type { ActionTarget, PolicyRequest, ResolvedAction } from '../../src/policy/request.js';

export interface RequestOptions {
  readonly headers?: Record<string, string>;
  readonly body?: string | Buffer;
  readonly normalForm?: NormalFormOptions;
}

/** A PolicyRequest for `method path` on `host`; throws when it is not in normal form. */
export function policyRequest(host: string, method: string, path: string, options: RequestOptions = {}): PolicyRequest {
  const body =
    options.body === undefined ? {} : { body: Buffer.isBuffer(options.body) ? options.body : Buffer.from(options.body) };
  const built = toPolicyRequest(
    { method, path, host, headers: Object.entries(options.headers ?? {}), ...body },
    options.normalForm,
  );
  if ('problem' in built) throw new Error(`test request not in normal form: ${built.problem}`);
  return built.request;
}

function pairText(t: ActionTarget): string {
  return `${t.action ?? '-'}${t.resource === undefined ? '' : ` @ ${t.resource}`}`;
}

/** One line for a resolver answer: `action @ resource + also…`, `refused code`, `needs_body missing`. */
export function describeAction(r: ResolvedAction): string {
  if (r.kind === 'refused') return `refused ${r.code}${r.action === undefined ? '' : ` (${r.action})`}`;
  if (r.kind === 'needs_body') return `needs_body ${r.missing}${r.action === undefined ? '' : ` (${r.action})`}`;
  const also = (r.also ?? []).map((t) => ` + ${pairText(t)}`).join('');
  return `${pairText(r)}${also}${r.filterResponse === undefined ? '' : ' [filter]'}`;
}

/** A table row: method, path, options, expected describeAction text. */
export type ActionRow = readonly [method: string, path: string, options: RequestOptions, expected: string];
