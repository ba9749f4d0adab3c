/**
 * The Provider's policy in a decision (PAI.md order: after the host picked the Provider, before the
 * credential): evaluates the compiled policy on the request and says whether to go on, ask for the
 * body first (ext_proc), or deny 403. Denials name the Provider, the action (or rule) and the
 * resource, never a value.
 */
import { PaiError } from '../errors.js';
import { evaluatePolicy, type PolicyVerdict } from '../policy/evaluate.js';
import { quoteName } from '../resources/names.js';
import type { InjectionTarget } from '../resources/types.js';

export type PolicyStep =
  | { readonly kind: 'go'; readonly verdict: PolicyVerdict | undefined }
  | { readonly kind: 'body' }
  | { readonly kind: 'deny'; readonly error: PaiError; readonly verdict?: PolicyVerdict };

/** What the step sees of the request. */
export interface PolicyStepInput {
  readonly api: 'check' | 'process';
  readonly method: string;
  readonly path: string;
  readonly headers: readonly (readonly [string, string])[];
  readonly body?: Buffer | undefined;
}

/** The 403 of a policy denial: which Provider, what was refused and by what rule (value-free). */
export function policyDenied(target: InjectionTarget, v: PolicyVerdict): PaiError {
  const what =
    v.action !== undefined ? `action ${v.action}` : v.reason === 'http_rule' ? 'the request' : 'a request of no known action';
  const on = v.resource === undefined ? '' : ` on ${quoteName(v.resource)}`;
  const by = v.rule === undefined ? '' : ` (${v.rule})`;
  const why = v.detail === undefined ? '' : `: ${v.detail}`;
  return new PaiError('policy_denied', `Provider ${quoteName(target.name)}: policy denies ${what}${on}${by}${why}`, {
    details: {
      provider: target.name,
      reason: v.reason,
      ...(v.action === undefined ? {} : { action: v.action }),
      ...(v.resource === undefined ? {} : { resource: v.resource }),
      ...(v.rule === undefined ? {} : { rule: v.rule }),
    },
  });
}

/** Check cannot show a body to a policy that needs it: fail closed, saying which sidecar config does. */
function needsBodyError(target: InjectionTarget): PaiError {
  return new PaiError(
    'needs_ext_proc',
    `Provider ${quoteName(target.name)} has a policy that reads the request body (e.g. a channel, table or tool), ` +
      'which ext_authz does not send: use the ext_proc sidecar (pai render sidecar --mode ext-proc, envoy/sidecar-ext-proc.yaml)',
    { details: { provider: target.name, reason: 'needs_body' } },
  );
}

/**
 * The policy step for `target` on host `host`. Without a policy: go on. An enforced violation:
 * deny 403 (`policy_denied`). A policy that needs the body: ask for it (Process) or fail closed
 * (Check). Audit mode goes on with the would-be denial in the verdict.
 */
export function policyStep(input: PolicyStepInput, target: InjectionTarget, host: string): PolicyStep {
  const policy = target.policy;
  if (policy === undefined || target.credentialFree?.(host, input.path) === true) return { kind: 'go', verdict: undefined };
  const verdict = evaluatePolicy(policy, {
    method: input.method,
    path: input.path,
    host,
    headers: input.headers,
    ...(input.body === undefined ? {} : { body: input.body }),
  });
  if (verdict.reason === 'needs_body' && input.body === undefined) {
    if (input.api === 'process') return { kind: 'body' };
    if (verdict.decision === 'deny') return { kind: 'deny', error: needsBodyError(target), verdict };
  }
  if (verdict.decision === 'deny') return { kind: 'deny', error: policyDenied(target, verdict), verdict };
  return { kind: 'go', verdict };
}
