/**
 * Compiles a Provider's `policy`, `scope` and `audit` once per resource version into matchers
 * (docs/POLICY.md): method sets, path globs, action and scope glob lists with each type's case
 * rules, the action resolver of the type, and whether decisions need the request body.
 */
import { PaiError } from '../errors.js';
import { compileGlobList } from './glob.js';
import type { GlobList, GlobOptions } from './glob.js';
import type { NormalFormOptions } from './path.js';
import type { ActionResolver } from './request.js';
import type { HttpRule, ProviderAudit, ProviderPolicy, ProviderScope } from './spec.js';

/**
 * What a Provider type brings to its policy (the type registry, src/providers, holds one per type):
 * its action resolver, how its action words and scope compare, and when decisions read the body.
 */
export interface PolicyTraits {
  readonly type: string;
  /** Undefined: the type has no action words (http-token): only "*" in allow/deny, httpRules decide. */
  readonly resolver: ActionResolver | undefined;
  /** Case rules of action words: MCP tool names allow exactly and deny case-insensitively; others case-insensitive. */
  readonly exactAllow?: boolean;
  /** `?` is a one-character wildcard in action words (IAM). */
  readonly questionMark?: boolean;
  /** Whether `policy.mcp` (tool lists) applies. */
  readonly toolPolicy?: boolean;
  /** The one scope list the type takes, how it compares, and what a request adds to a resource first. */
  readonly scope?: {
    readonly field: keyof ProviderScope;
    readonly options: GlobOptions;
    readonly prepare?: (s: string) => string;
  };
  /** Cloud Storage encodes "/" in object names: an encoded slash is normal form there. */
  readonly allowEncodedSlash?: boolean;
  /** Whether some decision reads the request body, given whether actions or scope decide anything. */
  readonly bodyMatters: (decides: boolean, hasScope: boolean) => boolean;
}

export interface CompiledHttpRule {
  readonly index: number;
  readonly effect: 'allow' | 'deny';
  /** Upper-cased methods; undefined when the rule lists `*`. */
  readonly methods: ReadonlySet<string> | undefined;
  readonly paths: GlobList;
}

export interface CompiledScope {
  /** The scope field that applies to this type, for verdicts (`scope.repositories`, …). */
  readonly field: string;
  readonly list: GlobList;
  /** Strips what the request adds to a resource before matching (Slack's leading `#`). */
  readonly prepare: (resource: string) => string;
}

export interface CompiledPolicy {
  readonly type: string;
  readonly resolver: ActionResolver | undefined;
  readonly normalForm: NormalFormOptions;
  readonly httpRules: readonly CompiledHttpRule[];
  readonly httpRulesHaveAllow: boolean;
  readonly allow: GlobList;
  readonly deny: GlobList;
  /** MCP only: policy.mcp.allowedTools (undefined: all) and deniedTools. */
  readonly allowedTools: GlobList | undefined;
  readonly deniedTools: GlobList | undefined;
  readonly scope: CompiledScope | undefined;
  readonly auditOnly: boolean;
  readonly logRequests: boolean;
  /** Whether the action name can change a decision (anything beyond allow `*`, empty deny, no tool lists). */
  readonly actionsMatter: boolean;
  /** Whether some decision needs the request body (see needsBody). */
  readonly bodyMatters: boolean;
}

// Case rules of action words (docs/POLICY.md): all case-insensitive but MCP tool names, whose
// allow side is exact and deny side case-insensitive (deny broadly, allow narrowly); `?` is a
// wildcard in AWS actions only (IAM).
function actionOptions(traits: PolicyTraits, side: 'allow' | 'deny'): GlobOptions {
  if (traits.exactAllow === true) return { caseInsensitive: side === 'deny' };
  return { caseInsensitive: true, questionMark: traits.questionMark === true };
}

const same = (s: string): string => s;

function invalid(field: string, why: string): PaiError {
  return new PaiError('invalid', `${field}: ${why}`, { details: { field } });
}

function compileScope(traits: PolicyTraits, scope: ProviderScope | undefined): CompiledScope | undefined {
  if (scope === undefined) return undefined;
  const field = traits.scope?.field;
  for (const key of ['repositories', 'channels', 'resources'] as const) {
    if (scope[key] !== undefined && key !== field) throw invalid(`scope.${key}`, `does not apply to a ${traits.type} Provider`);
  }
  const patterns = field === undefined ? undefined : scope[field];
  if (traits.scope === undefined || field === undefined || patterns === undefined) return undefined;
  const prepare = traits.scope.prepare ?? same;
  return { field: `scope.${field}`, list: compileGlobList(patterns.map(prepare), traits.scope.options), prepare };
}

function compileRules(rules: readonly HttpRule[]): CompiledHttpRule[] {
  return rules.map((rule, index) => ({
    index,
    effect: rule.effect,
    methods: rule.methods.includes('*') ? undefined : new Set(rule.methods.map((m) => m.toUpperCase())),
    paths: compileGlobList(rule.paths),
  }));
}

/**
 * The compiled policy of a Provider of `type`, or undefined when it has neither `policy` nor
 * `scope` (it then behaves as before: no policy). Throws PaiError `invalid` naming the field for a
 * block that cannot apply to the type (policy.mcp off mcp, action words on http-token, a scope
 * list of another type).
 */
export function compilePolicy(
  traits: PolicyTraits,
  blocks: { readonly policy?: ProviderPolicy; readonly scope?: ProviderScope; readonly audit?: ProviderAudit },
): CompiledPolicy | undefined {
  const { policy, scope, audit } = blocks;
  const type = traits.type;
  if (policy === undefined && scope === undefined) return undefined;
  if (policy?.mcp !== undefined && traits.toolPolicy !== true)
    throw invalid('policy.mcp', `does not apply to a ${type} Provider`);
  const allowWords = policy?.allow ?? ['*'];
  const denyWords = policy?.deny ?? [];
  if (traits.resolver === undefined) {
    for (const [field, words] of [
      ['policy.allow', allowWords],
      ['policy.deny', denyWords],
    ] as const) {
      if (words.some((w) => w !== '*')) throw invalid(field, 'an http-token Provider has no action words; use "*" and httpRules');
    }
  }
  const allow = compileGlobList(allowWords, actionOptions(traits, 'allow'));
  const deny = compileGlobList(denyWords, actionOptions(traits, 'deny'));
  const allowed = policy?.mcp?.allowedTools;
  const allowedTools =
    allowed === undefined || allowed.length === 0 ? undefined : compileGlobList(allowed, actionOptions(traits, 'allow'));
  const deniedTools =
    policy?.mcp?.deniedTools === undefined ? undefined : compileGlobList(policy.mcp.deniedTools, actionOptions(traits, 'deny'));
  const compiledScope = compileScope(traits, scope);
  const httpRules = compileRules(policy?.httpRules ?? []);
  const actionsMatter = !allow.hasStar || deny.size > 0 || allowedTools !== undefined || (deniedTools?.size ?? 0) > 0;
  const decides = actionsMatter || compiledScope !== undefined;
  return Object.freeze({
    type,
    resolver: traits.resolver,
    normalForm: { allowEncodedSlash: traits.allowEncodedSlash === true },
    httpRules,
    httpRulesHaveAllow: httpRules.some((r) => r.effect === 'allow'),
    allow,
    deny,
    allowedTools,
    deniedTools,
    scope: compiledScope,
    auditOnly: audit?.enforcement === 'audit',
    logRequests: audit?.logRequests ?? true,
    actionsMatter,
    bodyMatters: traits.bodyMatters(decides, compiledScope !== undefined),
  });
}

/** True when some decision of `compiled` reads the request body: the injector must then buffer it (ext_proc). */
export function needsBody(compiled: CompiledPolicy): boolean {
  return compiled.bodyMatters;
}
