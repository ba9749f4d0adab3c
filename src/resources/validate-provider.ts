/**
 * `spec` of a Provider in Pai's form (PAI.md): type, host, auth (checked against the type's
 * `auth.type` words and fields), config, mcp, and the policy blocks. What each type takes comes
 * from the type registry (src/providers). A field that exists but does not apply to the type is an
 * error, not ignored: the user expects it to do something.
 */
import { PROVIDER_REGISTRY } from '../providers/registry.js';
import type { AuthOption, ConfigField, ProviderTypeDef } from '../providers/types.js';
import {
  compact,
  fieldPath,
  fieldValue,
  readChild,
  readEnum,
  readList,
  readString,
  stringItem,
  type Mapping,
  type Problems,
} from './fields.js';
import { endpointUrlProblem, hostPatternProblem } from './hosts.js';
import { envNameProblem, keyProblem, nameProblem } from './names.js';
import {
  AUTH_TYPES,
  PROVIDER_TYPES,
  type McpServer,
  type ProviderAuth,
  type ProviderConfig,
  type ProviderSpec,
  type ProviderType,
} from './types.js';
import { readAudit, readExternalAccess, readPolicy, readScope } from './validate-policy.js';
import { awsRegionProblem, headerNameProblem, headerPrefixProblem, queryParamProblem, scopeProblem } from './wire-rules.js';

/** The fields of a Provider's spec (`hosts` is our extension for several hosts). */
export const PROVIDER_FIELDS = [
  'type',
  'host',
  'hosts',
  'auth',
  'config',
  'mcp',
  'policy',
  'scope',
  'audit',
  'externalAccess',
] as const;
const AUTH_FIELDS = [
  'type',
  'secretRef',
  'agentEnvVar',
  'secretKey',
  'header',
  'prefix',
  'param',
  'scheme',
  'scope',
  'tokenUrl',
] as const;
const OPTIONS: readonly AuthOption[] = ['secretKey', 'header', 'prefix', 'param', 'scheme', 'scope', 'tokenUrl'];
const CONFIG_FIELDS = ['region', 'project', 'tenantId', 'services'] as const;
const MCP_FIELDS = ['transport', 'url', 'command'] as const;

const SERVICE = /^[a-z0-9][a-z0-9.-]{0,62}$/;
const GCP_PROJECT = /^[a-z][a-z0-9-]{4,28}[a-z0-9]$/;
const AZURE_TENANT = /^[A-Za-z0-9][A-Za-z0-9.-]{0,252}$/;
const AZURE_REGION = /^[a-z0-9]{2,40}$/;

/** The types that take `field` (for "only for types …" messages). */
function takers(pick: (def: ProviderTypeDef) => boolean): string {
  const types = PROVIDER_TYPES.filter((t) => pick(PROVIDER_REGISTRY[t]));
  return `only for type${types.length > 1 ? 's' : ''} ${types.join(', ')}`;
}

/** Reports each present auth option the type does not take. */
function checkAuthOptions(auth: Mapping, def: ProviderTypeDef, problems: Problems): void {
  for (const option of OPTIONS) {
    if (fieldValue(auth, option) === undefined || def.authOptions.includes(option)) continue;
    const fixed = option === 'secretKey' && def.fixedKeys !== undefined ? `; for type ${def.type} ${def.fixedKeys}` : '';
    problems.add(`spec.auth.${option}`, `${takers((d) => d.authOptions.includes(option))}${fixed}`);
  }
}

/** Reads `spec.auth`, checking each field's syntax and whether it applies to the type. */
function readAuth(spec: Mapping, def: ProviderTypeDef | undefined, problems: Problems): ProviderAuth | undefined {
  const path = 'spec.auth';
  const auth = readChild(spec, 'auth', 'spec', AUTH_FIELDS, problems);
  if (auth === undefined) return undefined;
  const read = (key: (typeof AUTH_FIELDS)[number], check: (s: string) => string | undefined): string | undefined =>
    readString(auth, key, path, problems, { check });
  const typeCheck = (t: string): string | undefined => {
    if (!(AUTH_TYPES as readonly string[]).includes(t)) return `must be one of ${AUTH_TYPES.join(', ')}`;
    if (def !== undefined && !(def.authTypes as readonly string[]).includes(t)) {
      return `must be ${def.authTypes.join(' or ')} for type ${def.type}`;
    }
    return undefined;
  };
  const type = readString(auth, 'type', path, problems, { check: typeCheck }) as ProviderAuth['type'];
  const secretRef = readString(auth, 'secretRef', path, problems, { required: true, check: nameProblem });
  const fields = {
    type,
    secretKey: read('secretKey', keyProblem),
    header: read('header', headerNameProblem),
    prefix: read('prefix', headerPrefixProblem),
    param: read('param', queryParamProblem),
    agentEnvVar: read('agentEnvVar', envNameProblem),
    scheme: readEnum(auth, 'scheme', path, ['basic'] as const, problems),
    scope: read('scope', scopeProblem),
    tokenUrl: read('tokenUrl', endpointUrlProblem),
  };
  if (def !== undefined) checkAuthOptions(auth, def, problems);
  return secretRef === undefined ? undefined : compact({ secretRef, ...fields });
}

const CONFIG_CHECKS: Readonly<Record<ConfigField, (s: string, type: ProviderType | undefined) => string | undefined>> = {
  region: (s, type) =>
    type === 'azure' ? (AZURE_REGION.test(s) ? undefined : 'must be an Azure region name such as eastus') : awsRegionProblem(s),
  project: (s) => (GCP_PROJECT.test(s) ? undefined : 'must be a GCP project id (6-30 lower-case letters, digits and "-")'),
  tenantId: (s) => (AZURE_TENANT.test(s) ? undefined : 'must be a tenant id (a GUID) or a tenant domain name'),
  services: () => undefined,
};

/** Reads `spec.config`; each field only for the types that take it. */
function readConfig(spec: Mapping, def: ProviderTypeDef | undefined, problems: Problems): ProviderConfig | undefined {
  const path = 'spec.config';
  const config = readChild(spec, 'config', 'spec', CONFIG_FIELDS, problems);
  if (config === undefined) return undefined;
  for (const field of CONFIG_FIELDS) {
    if (fieldValue(config, field) !== undefined && def !== undefined && !def.configFields.includes(field)) {
      problems.add(
        fieldPath(path, field),
        takers((d) => d.configFields.includes(field)),
      );
    }
  }
  const type = def?.type;
  const one = (field: Exclude<ConfigField, 'services'>) =>
    readString(config, field, path, problems, { check: (s) => CONFIG_CHECKS[field](s, type) });
  const services = readList(
    config,
    'services',
    path,
    problems,
    stringItem(problems, (s) => (SERVICE.test(s) ? undefined : 'must be a service name such as s3')),
    {
      nonEmpty: true,
      unique: { key: (s) => s },
    },
  );
  return compact({ region: one('region'), project: one('project'), tenantId: one('tenantId'), services });
}

/** Reads `spec.mcp` (the MCP server of an mcp Provider). */
function readMcp(spec: Mapping, def: ProviderTypeDef | undefined, problems: Problems): McpServer | undefined {
  const path = 'spec.mcp';
  const mcp = readChild(spec, 'mcp', 'spec', MCP_FIELDS, problems);
  if (mcp === undefined) return undefined;
  if (def !== undefined && def.type !== 'mcp') problems.add(path, 'only for type mcp');
  const commandItem = stringItem(problems, (s) => (s.length > 0 && s.length <= 4096 ? undefined : 'must be 1-4096 characters'));
  return compact({
    transport: readEnum(mcp, 'transport', path, ['sse', 'stdio'] as const, problems),
    url: readString(mcp, 'url', path, problems, { check: endpointUrlProblem }),
    command: readList(mcp, 'command', path, problems, commandItem, { nonEmpty: true }),
  });
}

/** Reads `spec.host` / `spec.hosts` (never both). */
function readHost(spec: Mapping, problems: Problems): { host?: string; hosts?: string[] } {
  const host = readString(spec, 'host', 'spec', problems, { check: hostPatternProblem });
  const hosts = readList(spec, 'hosts', 'spec', problems, stringItem(problems, hostPatternProblem), {
    nonEmpty: true,
    unique: { key: (h) => h },
  });
  if (host !== undefined && hosts !== undefined) problems.add('spec.hosts', 'give either host or hosts, not both');
  return compact({ host, hosts });
}

/** Reads a Provider's spec, reporting every problem; returns it when it was readable. */
export function readProviderSpec(spec: Mapping, problems: Problems): ProviderSpec | undefined {
  const type = readEnum(spec, 'type', 'spec', PROVIDER_TYPES, problems, { required: true });
  const def = type === undefined ? undefined : PROVIDER_REGISTRY[type];
  const read = compact({
    ...readHost(spec, problems),
    auth: readAuth(spec, def, problems),
    config: readConfig(spec, def, problems),
    mcp: readMcp(spec, def, problems),
    policy: readPolicy(spec, def, problems),
    scope: readScope(spec, def, problems),
    audit: readAudit(spec, problems),
    externalAccess: readExternalAccess(spec, problems),
  });
  if (type === undefined || def === undefined) return undefined;
  const result: ProviderSpec = { type, ...read };
  const authOptional = def.authOptional?.(result) ?? false;
  if (fieldValue(spec, 'auth') === undefined && !authOptional) problems.add('spec.auth', 'required');
  const hostDerived = type === 'mcp';
  if (def.defaultHosts.length === 0 && !hostDerived && result.host === undefined && result.hosts === undefined) {
    problems.add('spec.host', `required for type ${type}`);
  }
  def.check?.(result, problems);
  if (result.auth === undefined && !authOptional) return undefined;
  return result;
}
