/**
 * Evaluates a compiled policy for one request, in Pai's order: normal form → httpRules → resolve
 * the action → deny / allow (and MCP tool lists) → scope. The first violation decides; under
 * `audit.enforcement: audit` it is reported as `audit-deny` and the request passes.
 */
import type { CompiledPolicy } from './compile.js';
import type { ActionTarget, PolicyInput, PolicyRequest, ResolvedAction } from './request.js';
import { toPolicyRequest } from './request.js';

export type PolicyDecision = 'allow' | 'deny' | 'audit-deny';

/** Machine reason of a verdict: the metric label and the `x-pai-deny-reason` of a denial. */
export type PolicyReason =
  | 'allowed'
  | 'not_normal_form'
  | 'http_rule'
  | 'bad_request'
  | 'bad_body'
  | 'needs_body'
  | 'action_denied'
  | 'action_not_allowed'
  | 'action_unresolved'
  | 'tool_denied'
  | 'tool_not_allowed'
  | 'out_of_scope';

export interface PolicyVerdict {
  readonly decision: PolicyDecision;
  readonly reason: PolicyReason;
  /** The action and resource of the request (of the failing pair, for a denial of an `also` pair). */
  readonly action?: string;
  readonly resource?: string;
  /** What decided: `httpRules[1]`, `deny: admin:*`, `policy.allow`, `scope.repositories`, … */
  readonly rule?: string;
  /** A value-free explanation (which part of the request could not be read, …). */
  readonly detail?: string;
  /** Set on an enforced allow of `tools/list`: the response must go through filterToolsList. */
  readonly filterResponse?: 'tools/list';
}

interface Violation {
  readonly reason: Exclude<PolicyReason, 'allowed'>;
  readonly rule?: string;
  readonly detail?: string;
  readonly target?: ActionTarget;
}

function verdict(compiled: CompiledPolicy, v: Violation, primary: ActionTarget): PolicyVerdict {
  const t = v.target ?? primary;
  return {
    decision: compiled.auditOnly ? 'audit-deny' : 'deny',
    reason: v.reason,
    ...(t.action === undefined ? {} : { action: t.action }),
    ...(t.resource === undefined ? {} : { resource: t.resource }),
    ...(v.rule === undefined ? {} : { rule: v.rule }),
    ...(v.detail === undefined ? {} : { detail: v.detail }),
  };
}

function httpRuleViolation(compiled: CompiledPolicy, req: PolicyRequest): Violation | undefined {
  for (const rule of compiled.httpRules) {
    if (rule.methods !== undefined && !rule.methods.has(req.method)) continue;
    if (rule.paths.match(req.path) === undefined) continue;
    return rule.effect === 'deny' ? { reason: 'http_rule', rule: `httpRules[${rule.index}]` } : undefined;
  }
  return compiled.httpRulesHaveAllow
    ? { reason: 'http_rule', rule: 'httpRules', detail: 'no rule allows this request' }
    : undefined;
}

/** Tool lists and action lists for one pair. */
function actionViolation(compiled: CompiledPolicy, t: ActionTarget): Violation | undefined {
  const action = t.action;
  if (action === undefined) {
    if (compiled.deny.hasStar) return { reason: 'action_denied', rule: 'deny: *', target: t };
    return compiled.allow.hasStar ? undefined : { reason: 'action_unresolved', rule: 'policy.allow', target: t };
  }
  const denied = compiled.deny.match(action);
  if (denied !== undefined) return { reason: 'action_denied', rule: `deny: ${denied}`, target: t };
  if (compiled.allow.match(action) === undefined) return { reason: 'action_not_allowed', rule: 'policy.allow', target: t };
  const deniedTool = compiled.deniedTools?.match(action);
  if (deniedTool !== undefined) return { reason: 'tool_denied', rule: `policy.mcp.deniedTools: ${deniedTool}`, target: t };
  if (compiled.allowedTools !== undefined && compiled.allowedTools.match(action) === undefined) {
    return { reason: 'tool_not_allowed', rule: 'policy.mcp.allowedTools', target: t };
  }
  return undefined;
}

function scopeViolation(compiled: CompiledPolicy, t: ActionTarget): Violation | undefined {
  const scope = compiled.scope;
  if (scope === undefined) return undefined;
  if (t.resource === undefined) {
    // A known action without a resource acts on no scoped resource (org:read, ListAllMyBuckets);
    // an unknown one might act on any: out of scope.
    return t.action === undefined
      ? { reason: 'out_of_scope', rule: scope.field, detail: 'resource unknown', target: t }
      : undefined;
  }
  return scope.list.match(scope.prepare(t.resource)) === undefined
    ? { reason: 'out_of_scope', rule: scope.field, target: t }
    : undefined;
}

function pair(action: string | undefined, resource: string | undefined): ActionTarget {
  // Built field by field: spreading conditional literals costs more than the rest of a decision.
  const out: { action?: string; resource?: string } = {};
  if (action !== undefined) out.action = action;
  if (resource !== undefined) out.resource = resource;
  return out;
}

/** The pairs to check, or the violation that an unreadable request is. */
function targetsOf(
  compiled: CompiledPolicy,
  r: ResolvedAction,
): { readonly targets: readonly ActionTarget[] } | { readonly violation: Violation } {
  if (r.kind === 'resolved') return { targets: [pair(r.action, r.resource), ...(r.also ?? [])] };
  const known = pair(r.action, r.kind === 'needs_body' ? r.resource : undefined);
  // A part that could not be read matters only when the policy looks at it.
  const aboutResource = r.kind === 'needs_body' ? r.missing === 'resource' : r.action !== undefined;
  const matters = aboutResource ? compiled.scope !== undefined : compiled.actionsMatter || compiled.scope !== undefined;
  if (!matters) return { targets: [known] };
  if (r.kind === 'needs_body') {
    return { violation: { reason: 'needs_body', detail: `the request body is needed to tell the ${r.missing}`, target: known } };
  }
  return { violation: { reason: r.code, detail: r.why, target: known } };
}

/**
 * The verdict of `compiled` on `input`: allow, deny or (audit mode) audit-deny, with the reason,
 * action, resource and what decided. Never throws: what it cannot read it denies.
 */
export function evaluatePolicy(compiled: CompiledPolicy, input: PolicyInput): PolicyVerdict {
  const parsed = toPolicyRequest(input, compiled.normalForm);
  if ('problem' in parsed) return verdict(compiled, { reason: 'not_normal_form', detail: parsed.problem }, {});
  const req = parsed.request;
  const ruled = httpRuleViolation(compiled, req);
  if (ruled !== undefined) return verdict(compiled, ruled, {});
  const resolvedAction: ResolvedAction = compiled.resolver === undefined ? { kind: 'resolved' } : compiled.resolver(req);
  const checked = targetsOf(compiled, resolvedAction);
  if ('violation' in checked) return verdict(compiled, checked.violation, {});
  const primary = checked.targets[0] ?? {};
  for (const t of checked.targets) {
    const v = actionViolation(compiled, t) ?? scopeViolation(compiled, t);
    if (v !== undefined) return verdict(compiled, v, primary);
  }
  const filter = resolvedAction.kind === 'resolved' && resolvedAction.filterResponse !== undefined && !compiled.auditOnly;
  return {
    decision: 'allow',
    reason: 'allowed',
    ...(primary.action === undefined ? {} : { action: primary.action }),
    ...(primary.resource === undefined ? {} : { resource: primary.resource }),
    ...(filter ? { filterResponse: 'tools/list' as const } : {}),
  };
}
