/**
 * `spec` of a ModelProvider in Pai's form (PAI.md): provider, endpoint, the key's secret, Azure's
 * apiVersion, bedrock's region (ours), and the gateway's fields (allowedModels, budgets, retry,
 * fallbacks, guards, externalAccess), which are checked for shape and kept.
 */
import { modelProviderDef } from '../providers/model-providers.js';
import {
  compact,
  describeType,
  fieldPath,
  fieldValue,
  isMapping,
  readChild,
  readEnum,
  readInteger,
  readList,
  readString,
  stringItem,
  type Mapping,
  type Problems,
} from './fields.js';
import { endpointUrlProblem } from './hosts.js';
import { keyProblem, nameProblem } from './names.js';
import { MODEL_PROVIDER_KINDS, type ModelProviderKind, type ModelProviderSpec } from './types.js';
import { awsRegionProblem } from './wire-rules.js';

/** Fields the gateway owns: checked for shape, kept, not acted on here. */
const KEPT_FIELDS = [
  'allowedModels',
  'deniedModels',
  'maxTokensPerDay',
  'maxTokensPerRequest',
  'retry',
  'fallbacks',
  'guards',
  'externalAccess',
] as const;
/** The fields of a ModelProvider's spec. */
export const MODEL_PROVIDER_FIELDS = ['provider', 'endpoint', 'apiKeySecretRef', 'apiVersion', 'region', ...KEPT_FIELDS] as const;
const REF_FIELDS = ['name', 'key'] as const;
const API_VERSION = /^\d{4}-\d{2}-\d{2}(-preview)?$/;
/** Cluster-internal host names: a vllm endpoint there may be plain http (PAI.md's example is). */
const CLUSTER_LOCAL = /\.svc(\.cluster\.local)?$/;

/** Why `raw` is not an endpoint for `provider` (vllm may use http inside the cluster). */
function endpointProblem(raw: string, provider: ModelProviderKind | undefined): string | undefined {
  const problem = endpointUrlProblem(raw);
  if (problem === undefined || provider !== 'vllm' || !raw.startsWith('http://')) return problem;
  const https = endpointUrlProblem(`https://${raw.slice('http://'.length)}`);
  if (https !== undefined) return https;
  return CLUSTER_LOCAL.test(new URL(raw).hostname) ? undefined : problem;
}

function readApiKeyRef(
  spec: Mapping,
  provider: ModelProviderKind | undefined,
  problems: Problems,
): ModelProviderSpec['apiKeySecretRef'] {
  const path = 'spec.apiKeySecretRef';
  const def = provider === undefined ? undefined : modelProviderDef(provider);
  const ref = readChild(spec, 'apiKeySecretRef', 'spec', REF_FIELDS, problems);
  if (ref === undefined) {
    if (fieldValue(spec, 'apiKeySecretRef') === undefined && def !== undefined && def.keyOptional !== true)
      problems.add(path, 'required');
    return undefined;
  }
  const name = readString(ref, 'name', path, problems, { required: true, check: nameProblem });
  if (provider === 'bedrock' && fieldValue(ref, 'key') !== undefined) {
    problems.add(
      `${path}.key`,
      'must be omitted for provider bedrock: the secret holds access_key_id, secret_access_key and optionally session_token',
    );
    return undefined;
  }
  const key = readString(ref, 'key', path, problems, {
    required: provider !== undefined && provider !== 'bedrock',
    check: keyProblem,
  });
  return name === undefined ? undefined : compact({ name, key });
}

/** Checks the gateway's fields for shape and returns them as written. */
function readKept(spec: Mapping, problems: Problems): Record<string, unknown> | undefined {
  const kept: Record<string, unknown> = {};
  const models = stringItem(problems, (s) => (s.length > 0 && s.length <= 256 ? undefined : 'must be 1-256 characters'));
  readList(spec, 'allowedModels', 'spec', problems, models);
  readList(spec, 'deniedModels', 'spec', problems, models);
  readList(spec, 'fallbacks', 'spec', problems, models);
  readInteger(spec, 'maxTokensPerDay', 'spec', problems, { min: 0, max: Number.MAX_SAFE_INTEGER });
  readInteger(spec, 'maxTokensPerRequest', 'spec', problems, { min: 0, max: Number.MAX_SAFE_INTEGER });
  for (const field of ['retry', 'externalAccess'] as const) {
    const v = fieldValue(spec, field);
    if (v !== undefined && !isMapping(v)) problems.add(fieldPath('spec', field), `must be a mapping (got ${describeType(v)})`);
  }
  const guards = fieldValue(spec, 'guards');
  if (guards !== undefined && !Array.isArray(guards)) problems.add('spec.guards', `must be a list (got ${describeType(guards)})`);
  for (const field of KEPT_FIELDS) {
    const v = fieldValue(spec, field);
    if (v !== undefined) kept[field] = v;
  }
  return Object.keys(kept).length === 0 ? undefined : kept;
}

/** Reads a ModelProvider's spec, reporting every problem; returns it when it was readable. */
export function readModelProviderSpec(spec: Mapping, problems: Problems): ModelProviderSpec | undefined {
  const provider = readEnum(spec, 'provider', 'spec', MODEL_PROVIDER_KINDS, problems, { required: true });
  const endpoint = readString(spec, 'endpoint', 'spec', problems, { check: (s) => endpointProblem(s, provider) });
  const apiVersion = readString(spec, 'apiVersion', 'spec', problems, {
    check: (s) => (API_VERSION.test(s) ? undefined : 'must be an Azure API version such as 2024-10-21 or 2024-12-01-preview'),
  });
  const region = readString(spec, 'region', 'spec', problems, { check: awsRegionProblem });
  const apiKeySecretRef = readApiKeyRef(spec, provider, problems);
  const kept = readKept(spec, problems);
  if (provider === undefined) return undefined;
  const def = modelProviderDef(provider);
  if (def.defaultEndpoint === undefined && fieldValue(spec, 'endpoint') === undefined)
    problems.add('spec.endpoint', `required for provider ${provider}`);
  if (provider !== 'bedrock' && fieldValue(spec, 'region') !== undefined)
    problems.add('spec.region', 'only for provider bedrock');
  if (def.apiVersionParam === undefined && fieldValue(spec, 'apiVersion') !== undefined) {
    problems.add('spec.apiVersion', 'only for provider azure-openai');
  }
  if (fieldValue(spec, 'apiKeySecretRef') !== undefined && apiKeySecretRef === undefined) return undefined;
  return compact({ provider, endpoint, region, apiVersion, apiKeySecretRef, kept });
}
