/**
 * `spec` of a Provider (DESIGN §3): type, hosts, and `auth`, whose fields depend on the type (and,
 * for http, on the scheme). A field that exists but does not apply is an error, not ignored: the
 * user expects it to do something.
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
} from '../fields.js';
import { endpointUrlProblem, hostPatternProblem } from '../hosts.js';
import { keyProblem, nameProblem } from '../names.js';
import {
  LEGACY_PROVIDER_TYPES as PROVIDER_TYPES,
  type LegacyProviderAuth as ProviderAuth,
  type LegacyProviderSpec as ProviderSpec,
  type LegacyProviderType as ProviderType,
} from './types.js';
import { headerNameProblem, headerPrefixProblem, queryParamProblem, scopeProblem } from '../wire-rules.js';

/** The fields of a Provider's spec. */
export const PROVIDER_FIELDS = ['type', 'hosts', 'auth'] as const;
/** The fields of `spec.auth`. */
export const AUTH_FIELDS = ['secretRef', 'secretKey', 'header', 'prefix', 'scheme', 'param', 'scope', 'tokenUrl'] as const;
type AuthField = (typeof AUTH_FIELDS)[number];

/** Which auth fields each type uses. */
const AUTH_FIELDS_BY_TYPE: Record<ProviderType, readonly AuthField[]> = {
  github: ['secretRef', 'secretKey'],
  http: ['secretRef', 'secretKey', 'header', 'prefix', 'scheme', 'param'],
  aws: ['secretRef'],
  telegram: ['secretRef', 'secretKey'],
  azure: ['secretRef', 'scope', 'tokenUrl'],
  gcp: ['secretRef', 'secretKey', 'scope', 'tokenUrl'],
};

/** Why a type takes no secretKey: its secret has fixed key names. */
const FIXED_KEYS: Partial<Record<ProviderType, string>> = {
  aws: 'the secret holds access_key_id, secret_access_key and optionally session_token',
  azure: 'the secret holds client_id, client_secret and tenant_id',
};

const SCHEMES = ['header', 'basic', 'query'] as const;
type Scheme = (typeof SCHEMES)[number];

/** Which http auth fields each scheme uses, beyond secretRef and scheme. */
const HTTP_FIELDS_BY_SCHEME: Record<Scheme, readonly AuthField[]> = {
  header: ['secretKey', 'header', 'prefix'],
  basic: [],
  query: ['secretKey', 'param'],
};

/** Reports each present auth field the type does not use, naming the types that do. */
function checkFieldsForType(auth: Mapping, type: ProviderType, problems: Problems): void {
  for (const field of AUTH_FIELDS) {
    if (fieldValue(auth, field) === undefined || AUTH_FIELDS_BY_TYPE[type].includes(field)) continue;
    const users = PROVIDER_TYPES.filter((t) => AUTH_FIELDS_BY_TYPE[t].includes(field));
    const note = field === 'secretKey' && FIXED_KEYS[type] !== undefined ? `; for type ${type} ${FIXED_KEYS[type]}` : '';
    problems.add(`spec.auth.${field}`, `only for type${users.length > 1 ? 's' : ''} ${users.join(', ')}${note}`);
  }
}

/** Reports http auth fields the scheme does not use, and a missing `param` for the query scheme. */
function checkHttpScheme(auth: Mapping, scheme: Scheme, problems: Problems): void {
  for (const field of ['secretKey', 'header', 'prefix', 'param'] as const) {
    if (fieldValue(auth, field) === undefined || HTTP_FIELDS_BY_SCHEME[scheme].includes(field)) continue;
    const users = SCHEMES.filter((s) => HTTP_FIELDS_BY_SCHEME[s].includes(field));
    const note = scheme === 'basic' ? ' (the secret holds username and password)' : '';
    problems.add(`spec.auth.${field}`, `not used with scheme ${scheme}${note}; only with scheme ${users.join(' or ')}`);
  }
  if (scheme === 'query' && fieldValue(auth, 'param') === undefined)
    problems.add('spec.auth.param', 'required with scheme query');
}

/** Reads `spec.auth`, checking each field's syntax and whether it applies to the type. */
function readAuth(value: unknown, type: ProviderType | undefined, problems: Problems): ProviderAuth | undefined {
  const path = 'spec.auth';
  if (value === undefined) {
    problems.add(path, 'required');
    return undefined;
  }
  const auth = readMapping(value, path, AUTH_FIELDS, problems);
  if (auth === undefined) return undefined;
  const read = (key: AuthField, check: (s: string) => string | undefined): string | undefined =>
    readString(auth, key, path, problems, { check });
  const secretRef = readString(auth, 'secretRef', path, problems, { required: true, check: nameProblem });
  const fields = {
    secretKey: read('secretKey', keyProblem),
    header: read('header', headerNameProblem),
    prefix: read('prefix', headerPrefixProblem),
    scheme: readEnum(auth, 'scheme', path, SCHEMES, problems),
    param: read('param', queryParamProblem),
    scope: read('scope', scopeProblem),
    tokenUrl: read('tokenUrl', endpointUrlProblem),
  };
  if (type !== undefined) checkFieldsForType(auth, type, problems);
  if (type === 'http') checkHttpScheme(auth, fields.scheme ?? 'header', problems);
  return secretRef === undefined ? undefined : compact({ secretRef, ...fields });
}

/** Reads `spec.hosts`: host patterns, not empty, without duplicates; required for http. */
function readHosts(spec: Mapping, type: ProviderType | undefined, problems: Problems): string[] | undefined {
  return readList(spec, 'hosts', 'spec', problems, stringItem(problems, hostPatternProblem), {
    required: type === 'http',
    nonEmpty: true,
    unique: { key: (h) => h },
  });
}

/** Reads a Provider's spec, reporting every problem; returns it when it was readable. */
export function readProviderSpec(spec: Mapping, problems: Problems): ProviderSpec | undefined {
  const type = readEnum(spec, 'type', 'spec', PROVIDER_TYPES, problems, { required: true });
  const hosts = readHosts(spec, type, problems);
  const auth = readAuth(fieldValue(spec, 'auth'), type, problems);
  if (type === undefined || auth === undefined) return undefined;
  return compact({ type, hosts, auth });
}
