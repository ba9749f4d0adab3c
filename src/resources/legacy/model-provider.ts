/** `spec` of a ModelProvider (DESIGN §3): type, optional baseUrl/region, and the API key's secret. */
import { compact, fieldValue, readEnum, readMapping, readString, type Mapping, type Problems } from '../fields.js';
import { endpointUrlProblem } from '../hosts.js';
import { keyProblem, nameProblem } from '../names.js';
import {
  LEGACY_MODEL_PROVIDER_TYPES as MODEL_PROVIDER_TYPES,
  type LegacyModelProviderSpec as ModelProviderSpec,
  type LegacyModelProviderType as ModelProviderType,
} from './types.js';
import { awsRegionProblem } from '../wire-rules.js';

/** The fields of a ModelProvider's spec. */
export const MODEL_PROVIDER_FIELDS = ['type', 'baseUrl', 'region', 'apiKeySecretRef'] as const;
const REF_FIELDS = ['name', 'key'] as const;
/** Types with no well-known endpoint: the user must say where the API is. */
const NEEDS_BASE_URL: readonly ModelProviderType[] = ['azure-openai', 'openai-compatible'];

/** Reads `spec.apiKeySecretRef`: `key` is required, except for bedrock where it must be absent. */
function readApiKeyRef(
  value: unknown,
  type: ModelProviderType | undefined,
  problems: Problems,
): ModelProviderSpec['apiKeySecretRef'] | undefined {
  const path = 'spec.apiKeySecretRef';
  if (value === undefined) {
    problems.add(path, 'required');
    return undefined;
  }
  const ref = readMapping(value, path, REF_FIELDS, problems);
  if (ref === undefined) return undefined;
  const name = readString(ref, 'name', path, problems, { required: true, check: nameProblem });
  if (type === 'bedrock' && fieldValue(ref, 'key') !== undefined) {
    problems.add(
      `${path}.key`,
      'must be omitted for type bedrock: the secret holds access_key_id, secret_access_key and optionally session_token',
    );
    return undefined;
  }
  const key = readString(ref, 'key', path, problems, { required: type !== undefined && type !== 'bedrock', check: keyProblem });
  return name === undefined ? undefined : compact({ name, key });
}

/** Reads a ModelProvider's spec, reporting every problem; returns it when it was readable. */
export function readModelProviderSpec(spec: Mapping, problems: Problems): ModelProviderSpec | undefined {
  const type = readEnum(spec, 'type', 'spec', MODEL_PROVIDER_TYPES, problems, { required: true });
  const baseUrl = readString(spec, 'baseUrl', 'spec', problems, { check: endpointUrlProblem });
  const region = readString(spec, 'region', 'spec', problems, { check: awsRegionProblem });
  const apiKeySecretRef = readApiKeyRef(fieldValue(spec, 'apiKeySecretRef'), type, problems);
  if (type !== undefined && NEEDS_BASE_URL.includes(type) && fieldValue(spec, 'baseUrl') === undefined) {
    problems.add('spec.baseUrl', `required for type ${type}`);
  }
  if (type !== undefined && type !== 'bedrock' && fieldValue(spec, 'region') !== undefined) {
    problems.add('spec.region', 'only for type bedrock');
  }
  if (type === undefined || apiKeySecretRef === undefined) return undefined;
  return compact({ type, baseUrl, region, apiKeySecretRef });
}
