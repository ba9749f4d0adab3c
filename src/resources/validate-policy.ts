/**
 * A Provider's `policy`, `scope`, `audit` and `externalAccess` blocks (PAI.md): parsed and checked
 * against the type (its action words, the scope lists it takes, `policy.mcp` for mcp only), and
 * kept for the injector to enforce. Pure.
 */
import type { ProviderTypeDef } from '../providers/types.js';
import {
  compact,
  fieldPath,
  readBoolean,
  readChild,
  readEnum,
  readInteger,
  readList,
  readMapping,
  stringItem,
  type Mapping,
  type Problems,
} from './fields.js';
import { hasSpaceOrControl } from './names.js';
import type { ExternalAccess, HttpRule, ProviderAudit, ProviderPolicy, ProviderScope } from './types.js';

export const POLICY_FIELDS = ['allow', 'deny', 'httpRules', 'mcp'] as const;
const RULE_FIELDS = ['methods', 'paths', 'effect'] as const;
const MCP_POLICY_FIELDS = ['allowedTools', 'deniedTools'] as const;
export const SCOPE_FIELDS = ['repositories', 'channels', 'resources'] as const;
const AUDIT_FIELDS = ['logRequests', 'enforcement'] as const;
const EXTERNAL_FIELDS = ['enabled', 'maxRequestsPerDay'] as const;

const METHOD = /^([A-Za-z]{1,32}|\*)$/;
const TOOL = /^[A-Za-z0-9_.:/-]{1,128}$/;
const REPOSITORY = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})\/(?:[A-Za-z0-9._-]{1,100}|\*)$/;

/** Why `text` is unusable as a policy word (any type): empty, too long, whitespace or controls. */
function wordShapeProblem(text: string): string | undefined {
  if (text.length === 0) return 'must not be empty';
  if (text.length > 512) return `must be at most 512 characters (has ${text.length})`;
  if (hasSpaceOrControl(text)) return 'must not contain whitespace or control characters';
  return undefined;
}

/** A path glob: starts with "/" or is "*" (which matches every path). */
function pathGlobProblem(glob: string): string | undefined {
  const shape = wordShapeProblem(glob);
  if (shape !== undefined) return shape;
  return glob.startsWith('/') || glob.startsWith('*') ? undefined : 'must start with "/" or "*"';
}

const strings = (obj: Mapping, key: string, path: string, problems: Problems, check: (s: string) => string | undefined) =>
  readList(obj, key, path, problems, stringItem(problems, check), { unique: { key: (s) => s } });

function readRule(value: unknown, path: string, problems: Problems): HttpRule | undefined {
  const rule = readMapping(value, path, RULE_FIELDS, problems);
  if (rule === undefined) return undefined;
  const methods = readList(
    rule,
    'methods',
    path,
    problems,
    stringItem(problems, (m) => (METHOD.test(m) ? undefined : 'must be an HTTP method name such as GET, or *')),
    {
      required: true,
      nonEmpty: true,
    },
  );
  const paths = readList(rule, 'paths', path, problems, stringItem(problems, pathGlobProblem), {
    required: true,
    nonEmpty: true,
  });
  const effect = readEnum(rule, 'effect', path, ['allow', 'deny'] as const, problems, { required: true });
  if (methods === undefined || paths === undefined || effect === undefined) return undefined;
  return { methods, paths, effect };
}

/** Reads `spec.policy`, checking action words against the type. */
export function readPolicy(spec: Mapping, def: ProviderTypeDef | undefined, problems: Problems): ProviderPolicy | undefined {
  const path = 'spec.policy';
  const policy = readChild(spec, 'policy', 'spec', POLICY_FIELDS, problems);
  if (policy === undefined) return undefined;
  const wordProblem = (word: string): string | undefined => {
    const shape = wordShapeProblem(word);
    if (shape !== undefined || def === undefined) return shape;
    if (def.actionWordProblem !== undefined) return def.actionWordProblem(word);
    return word === '*' ? undefined : `type ${def.type} has no action words (only "*"); control it with httpRules`;
  };
  const allow = strings(policy, 'allow', path, problems, wordProblem);
  const deny = strings(policy, 'deny', path, problems, wordProblem);
  const httpRules = readList(policy, 'httpRules', path, problems, (v, p) => readRule(v, p, problems));
  const rawMcp = readChild(policy, 'mcp', path, MCP_POLICY_FIELDS, problems);
  let mcp;
  if (rawMcp !== undefined) {
    if (def !== undefined && def.type !== 'mcp') problems.add(fieldPath(path, 'mcp'), 'only for type mcp');
    const mcpPath = fieldPath(path, 'mcp');
    const toolProblem = (t: string) =>
      TOOL.test(t) ? undefined : 'must be an MCP tool name (letters, digits, "_", "-", ".", ":", "/")';
    mcp = compact({
      allowedTools: strings(rawMcp, 'allowedTools', mcpPath, problems, toolProblem),
      deniedTools: strings(rawMcp, 'deniedTools', mcpPath, problems, toolProblem),
    });
  }
  return compact({ allow, deny, httpRules, mcp });
}

/** Reads `spec.scope`; each list only for the types that take it. */
export function readScope(spec: Mapping, def: ProviderTypeDef | undefined, problems: Problems): ProviderScope | undefined {
  const path = 'spec.scope';
  const scope = readChild(spec, 'scope', 'spec', SCOPE_FIELDS, problems);
  if (scope === undefined) return undefined;
  for (const field of SCOPE_FIELDS) {
    if (scope[field] !== undefined && def !== undefined && !def.scopeFields.includes(field)) {
      const takers = { repositories: 'github', channels: 'slack', resources: 'aws, gcp and azure' }[field];
      problems.add(fieldPath(path, field), `only for type${field === 'resources' ? 's' : ''} ${takers}`);
    }
  }
  const repositories = strings(scope, 'repositories', path, problems, (r) =>
    REPOSITORY.test(r) ? undefined : 'must be "owner/repository" (or "owner/*")',
  );
  const channels = strings(scope, 'channels', path, problems, wordShapeProblem);
  const resources = strings(scope, 'resources', path, problems, wordShapeProblem);
  return compact({ repositories, channels, resources });
}

/** Reads `spec.audit`. */
export function readAudit(spec: Mapping, problems: Problems): ProviderAudit | undefined {
  const audit = readChild(spec, 'audit', 'spec', AUDIT_FIELDS, problems);
  if (audit === undefined) return undefined;
  return compact({
    logRequests: readBoolean(audit, 'logRequests', 'spec.audit', problems),
    enforcement: readEnum(audit, 'enforcement', 'spec.audit', ['enforce', 'audit'] as const, problems),
  });
}

/** Reads `spec.externalAccess` (kept for the gateway's external surface). */
export function readExternalAccess(spec: Mapping, problems: Problems): ExternalAccess | undefined {
  const ext = readChild(spec, 'externalAccess', 'spec', EXTERNAL_FIELDS, problems);
  if (ext === undefined) return undefined;
  return compact({
    enabled: readBoolean(ext, 'enabled', 'spec.externalAccess', problems),
    maxRequestsPerDay: readInteger(ext, 'maxRequestsPerDay', 'spec.externalAccess', problems, { min: 0, max: 1e12 }),
  });
}
