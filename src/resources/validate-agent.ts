/**
 * `spec` of an Agent in Pai's form (PAI.md): the Providers it attaches, its `models`
 * (`<ModelProvider name>/<model id>`), `env[]` (a literal `value`, or a `secretRef`: the audited
 * exposure), our `egress` and the earlier dialect's `modelProviders`; and the fields other Pai
 * components own (image, guards, triggers, …), kept and returned as written.
 */
import {
  compact,
  fieldValue,
  readEnum,
  readList,
  readMapping,
  readString,
  stringItem,
  type Mapping,
  type Problems,
} from './fields.js';
import { envNameProblem, hasSpaceOrControl, keyProblem, nameProblem } from './names.js';
import type { AgentSpec, EnvVar, KeptFields } from './types.js';

/** Agent fields that other Pai components own (PAI.md, Pai's Agent pages): accepted, kept, not acted on. */
export const AGENT_KEPT_FIELDS = [
  'type',
  'image',
  'replicas',
  'runAsUser',
  'command',
  'args',
  'harness',
  'longRunning',
  'triggers',
  'guards',
  'inbound',
  'expose',
  'volumes',
  'configFiles',
  'tokens',
  'rateLimits',
  'resources',
  'autoscaling',
  'filesystem',
  'skills',
  'packages',
  'tools',
  'system',
  'description',
  'agentDefinition',
  'schedule',
  'webhook',
  'conversational',
  'mcpServers',
  'managedAgentDefinitions',
  'modelBindings',
] as const;

/** The fields of an Agent's spec. */
export const AGENT_FIELDS = ['providers', 'models', 'modelProviders', 'env', 'egress', ...AGENT_KEPT_FIELDS] as const;
const ENV_FIELDS = ['name', 'value', 'secretRef'] as const;
const REF_FIELDS = ['name', 'key'] as const;
const MAX_ENV_VALUE = 128 * 1024;

/** Reads one `spec.env[i]`: a name and exactly one of value or secretRef. */
function readEnvVar(value: unknown, path: string, problems: Problems): EnvVar | undefined {
  const entry = readMapping(value, path, ENV_FIELDS, problems);
  if (entry === undefined) return undefined;
  const name = readString(entry, 'name', path, problems, { required: true, check: envNameProblem });
  const literal = readString(entry, 'value', path, problems, {
    check: (s) =>
      s.length > MAX_ENV_VALUE ? `must be at most ${MAX_ENV_VALUE} bytes` : s.includes('\0') ? 'must not contain NUL' : undefined,
  });
  const rawRef = fieldValue(entry, 'secretRef');
  const hasValue = fieldValue(entry, 'value') !== undefined;
  if (hasValue && rawRef !== undefined) {
    problems.add(`${path}.secretRef`, 'give either value or secretRef, not both');
    return undefined;
  }
  if (!hasValue && rawRef === undefined) {
    problems.add(path, 'needs value or secretRef');
    return undefined;
  }
  if (name === undefined) return undefined;
  if (hasValue) return literal === undefined ? undefined : { name, value: literal };
  const refPath = `${path}.secretRef`;
  const ref = readMapping(rawRef, refPath, REF_FIELDS, problems);
  if (ref === undefined) return undefined;
  const secret = readString(ref, 'name', refPath, problems, { required: true, check: nameProblem });
  const key = readString(ref, 'key', refPath, problems, { required: true, check: keyProblem });
  if (secret === undefined || key === undefined) return undefined;
  return { name, secretRef: { name: secret, key } };
}

/** Why `model` is not `<ModelProvider name>/<model id>` (split on the first "/"), or undefined. */
export function modelRefProblem(model: string): string | undefined {
  const slash = model.indexOf('/');
  if (slash < 0) return 'must be <ModelProvider name>/<model id>, e.g. google/gemini-2.5-flash';
  const provider = nameProblem(model.slice(0, slash));
  if (provider !== undefined) return `ModelProvider name before "/" ${provider}`;
  const id = model.slice(slash + 1);
  if (id.length === 0 || id.length > 256 || hasSpaceOrControl(id)) {
    return 'model id after "/" must be 1-256 characters without whitespace or control characters';
  }
  return undefined;
}

/** The ModelProvider of a model reference: the text before the first "/". */
export function modelProviderOf(model: string): string {
  return model.slice(0, model.indexOf('/'));
}

function readNames(spec: Mapping, key: string, problems: Problems): string[] | undefined {
  return readList(spec, key, 'spec', problems, stringItem(problems, nameProblem), { unique: { key: (n) => n } });
}

/** Reads an Agent's spec, reporting every problem; returns what was readable. */
export function readAgentSpec(spec: Mapping, problems: Problems): AgentSpec {
  const providers = readNames(spec, 'providers', problems);
  const modelProviders = readNames(spec, 'modelProviders', problems);
  const models = readList(spec, 'models', 'spec', problems, stringItem(problems, modelRefProblem), { unique: { key: (m) => m } });
  const env = readList(spec, 'env', 'spec', problems, (value, path) => readEnvVar(value, path, problems), {
    unique: { key: (e) => e.name, field: (path) => `${path}.name` },
  });
  const egress = readEnum(spec, 'egress', 'spec', ['allow', 'deny'] as const, problems);
  const kept: Record<string, unknown> = {};
  for (const field of AGENT_KEPT_FIELDS) {
    const v = fieldValue(spec, field);
    if (v !== undefined) kept[field] = v;
  }
  const keptFields: KeptFields | undefined = Object.keys(kept).length === 0 ? undefined : kept;
  return compact({ providers, models, modelProviders, env, egress, kept: keptFields });
}
