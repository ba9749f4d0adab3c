/**
 * Compiles a Provider's `policy`, `scope` and `audit` once per resource version into matchers
 * (docs/POLICY.md): method sets, path globs, action and scope glob lists with each type's case
 * rules, the action resolver of the type, and whether decisions need the request body.
 */
import { PaiError } from '../errors.js';
import { awsAction } from '../providers/aws-actions.js';
import { azureAction } from '../providers/azure-actions.js';
import { gcpAction } from '../providers/gcp-actions.js';
import { githubAction } from '../providers/github-actions.js';
import { mcpAction } from '../providers/mcp-actions.js';
import { slackAction } from '../providers/slack-actions.js';
import { telegramAction } from '../providers/telegram-actions.js';
import { compileGlobList } from './glob.js';
import type { GlobList, GlobOptions } from './glob.js';
import type { NormalFormOptions } from './path.js';
import type { ActionResolver } from './request.js';
import type { HttpRule, ProviderAudit, ProviderPolicy, ProviderScope } from './spec.js';

export type PolicyProviderType = 'github' | 'telegram' | 'slack' | 'aws' | 'gcp' | 'azure' | 'http-token' | 'mcp';

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
  readonly type: PolicyProviderType;
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

const RESOLVERS: Record<PolicyProviderType, ActionResolver | undefined> = {
  github: githubAction,
  telegram: telegramAction,
  slack: slackAction,
  aws: awsAction,
  gcp: gcpAction,
  azure: azureAction,
  mcp: mcpAction,
  'http-token': undefined,
};

// Case rules of action words (docs/POLICY.md): all case-insensitive but MCP tool names, whose
// allow side is exact and deny side case-insensitive (deny broadly, allow narrowly); `?` is a
// wildcard in AWS actions only (IAM).
function actionOptions(type: PolicyProviderType, side: 'allow' | 'deny'): GlobOptions {
  if (type === 'mcp') return { caseInsensitive: side === 'deny' };
  return { caseInsensitive: true, questionMark: type === 'aws' };
}

const SCOPE_FIELD: Partial<Record<PolicyProviderType, keyof ProviderScope>> = {
  github: 'repositories',
  slack: 'channels',
  aws: 'resources',
  gcp: 'resources',
  azure: 'resources',
};
const SCOPE_OPTIONS: Partial<Record<PolicyProviderType, GlobOptions>> = {
  github: { caseInsensitive: true },
  slack: { caseInsensitive: true },
  aws: { questionMark: true },
  gcp: { questionMark: true },
  azure: { caseInsensitive: true, questionMark: true },
};

const stripHash = (s: string): string => (s.startsWith('#') ? s.slice(1) : s);
const same = (s: string): string => s;

function invalid(field: string, why: string): PaiError {
  return new PaiError('invalid', `${field}: ${why}`, { details: { field } });
}

function compileScope(type: PolicyProviderType, scope: ProviderScope | undefined): CompiledScope | undefined {
  if (scope === undefined) return undefined;
  const field = SCOPE_FIELD[type];
  for (const key of ['repositories', 'channels', 'resources'] as const) {
    if (scope[key] !== undefined && key !== field) throw invalid(`scope.${key}`, `does not apply to a ${type} Provider`);
  }
  const patterns = field === undefined ? undefined : scope[field];
  if (field === undefined || patterns === undefined) return undefined;
  const prepare = type === 'slack' ? stripHash : same;
  return { field: `scope.${field}`, list: compileGlobList(patterns.map(prepare), SCOPE_OPTIONS[type]), prepare };
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
  type: PolicyProviderType,
  blocks: { readonly policy?: ProviderPolicy; readonly scope?: ProviderScope; readonly audit?: ProviderAudit },
): CompiledPolicy | undefined {
  const { policy, scope, audit } = blocks;
  if (policy === undefined && scope === undefined) return undefined;
  if (policy?.mcp !== undefined && type !== 'mcp') throw invalid('policy.mcp', `does not apply to a ${type} Provider`);
  const allowWords = policy?.allow ?? ['*'];
  const denyWords = policy?.deny ?? [];
  if (type === 'http-token') {
    for (const [field, words] of [
      ['policy.allow', allowWords],
      ['policy.deny', denyWords],
    ] as const) {
      if (words.some((w) => w !== '*')) throw invalid(field, 'an http-token Provider has no action words; use "*" and httpRules');
    }
  }
  const allow = compileGlobList(allowWords, actionOptions(type, 'allow'));
  const deny = compileGlobList(denyWords, actionOptions(type, 'deny'));
  const allowed = policy?.mcp?.allowedTools;
  const allowedTools =
    allowed === undefined || allowed.length === 0 ? undefined : compileGlobList(allowed, actionOptions(type, 'allow'));
  const deniedTools =
    policy?.mcp?.deniedTools === undefined ? undefined : compileGlobList(policy.mcp.deniedTools, actionOptions(type, 'deny'));
  const compiledScope = compileScope(type, scope);
  const httpRules = compileRules(policy?.httpRules ?? []);
  const actionsMatter = !allow.hasStar || deny.size > 0 || allowedTools !== undefined || (deniedTools?.size ?? 0) > 0;
  const decides = actionsMatter || compiledScope !== undefined;
  return Object.freeze({
    type,
    resolver: RESOLVERS[type],
    normalForm: { allowEncodedSlash: type === 'gcp' },
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
    bodyMatters: type === 'slack' ? compiledScope !== undefined : (type === 'aws' || type === 'mcp') && decides,
  });
}

/** True when some decision of `compiled` reads the request body: the injector must then buffer it (ext_proc). */
export function needsBody(compiled: CompiledPolicy): boolean {
  return compiled.bodyMatters;
}
