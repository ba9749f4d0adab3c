/** `spec` of an Agent (DESIGN §3): the ModelProviders and Providers it may use, env from secrets, egress. */
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
} from '../fields.js';
import { envNameProblem, keyProblem, nameProblem } from '../names.js';
import type { LegacyAgentSpec as AgentSpec } from './types.js';

type EnvVarRef = NonNullable<AgentSpec['env']>[number];

/** The fields of an Agent's spec. */
export const AGENT_FIELDS = ['modelProviders', 'providers', 'env', 'egress'] as const;
const ENV_FIELDS = ['name', 'secretRef'] as const;
const REF_FIELDS = ['name', 'key'] as const;
const EGRESS = ['allow', 'deny'] as const;

/** Reads one `spec.env[i]` entry: an env name and the secret key it is set from. */
function readEnvVar(value: unknown, path: string, problems: Problems): EnvVarRef | undefined {
  const entry = readMapping(value, path, ENV_FIELDS, problems);
  if (entry === undefined) return undefined;
  const name = readString(entry, 'name', path, problems, { required: true, check: envNameProblem });
  const refPath = `${path}.secretRef`;
  const rawRef = fieldValue(entry, 'secretRef');
  if (rawRef === undefined) {
    problems.add(refPath, 'required');
    return undefined;
  }
  const ref = readMapping(rawRef, refPath, REF_FIELDS, problems);
  if (ref === undefined) return undefined;
  const secret = readString(ref, 'name', refPath, problems, { required: true, check: nameProblem });
  const key = readString(ref, 'key', refPath, problems, { required: true, check: keyProblem });
  if (name === undefined || secret === undefined || key === undefined) return undefined;
  return { name, secretRef: { name: secret, key } };
}

/** Reads a list of resource names at `spec.<key>`, without duplicates. */
function readNames(spec: Mapping, key: string, problems: Problems): string[] | undefined {
  return readList(spec, key, 'spec', problems, stringItem(problems, nameProblem), { unique: { key: (n) => n } });
}

/** Reads an Agent's spec, reporting every problem; returns what was readable. */
export function readAgentSpec(spec: Mapping, problems: Problems): AgentSpec {
  const modelProviders = readNames(spec, 'modelProviders', problems);
  const providers = readNames(spec, 'providers', problems);
  const env = readList(spec, 'env', 'spec', problems, (value, path) => readEnvVar(value, path, problems), {
    unique: { key: (e) => e.name, field: (path) => `${path}.name` },
  });
  const egress = readEnum(spec, 'egress', 'spec', EGRESS, problems);
  return compact({ modelProviders, providers, env, egress });
}
