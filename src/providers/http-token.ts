/**
 * http-token: any API with a static token, as a header (`auth.header`, default Authorization, with
 * `auth.prefix`, default "Bearer ", "" for none) or a query parameter (`auth.param`). `host` is
 * required. Extension kept from the earlier dialect: `auth.scheme: basic`, Basic auth from the
 * secret's keys `username` and `password`.
 */
import type { Problems } from '../resources/fields.js';
import { fieldPath } from '../resources/fields.js';
import type { ProviderSpec } from '../resources/types.js';
import { BEARER, coveredHosts, secretKeyOf } from './common.js';
import type { ProviderTypeDef } from './types.js';

/** The keys of a secret used with `auth.scheme: basic`. */
export const BASIC_KEYS = { username: 'username', password: 'password' } as const;
export const DEFAULT_HTTP_HEADER = 'Authorization';

/** Which auth fields `param` and `scheme: basic` exclude. */
function checkExclusive(spec: ProviderSpec, problems: Problems): void {
  const auth = spec.auth;
  if (auth === undefined) return;
  const at = (field: string) => fieldPath('spec.auth', field);
  if (auth.scheme === 'basic') {
    for (const field of ['secretKey', 'header', 'prefix', 'param'] as const) {
      if (auth[field] !== undefined)
        problems.add(at(field), 'not used with scheme basic (the secret holds username and password)');
    }
    return;
  }
  if (auth.param !== undefined) {
    for (const field of ['header', 'prefix'] as const) {
      if (auth[field] !== undefined) problems.add(at(field), 'not used with param (the token goes in the query parameter)');
    }
  }
}

export const httpToken: ProviderTypeDef = {
  type: 'http-token',
  // No action words: only "*" in allow/deny; httpRules decide.
  policy: { type: 'http-token', resolver: undefined, bodyMatters: () => false },
  authTypes: ['api-key'],
  authOptions: ['secretKey', 'header', 'prefix', 'param', 'scheme'],
  scopeFields: [],
  configFields: [],
  defaultSecretKey: 'token',
  defaultHosts: [],
  check: checkExclusive,
  secretKeys: (spec) =>
    spec.auth?.scheme === 'basic'
      ? { requiredKeys: [BASIC_KEYS.username, BASIC_KEYS.password], optionalKeys: [] }
      : { requiredKeys: [secretKeyOf(spec, 'token')], optionalKeys: [] },
  targets: (p) => {
    const hosts = coveredHosts(p, []);
    const auth = p.spec.auth;
    const key = secretKeyOf(p.spec, 'token');
    if (auth?.scheme === 'basic') {
      return [{ hosts, auth: { strategy: 'basic', usernameKey: BASIC_KEYS.username, passwordKey: BASIC_KEYS.password } }];
    }
    if (auth?.param !== undefined) return [{ hosts, auth: { strategy: 'query', param: auth.param, key } }];
    const header = (auth?.header ?? DEFAULT_HTTP_HEADER).toLowerCase();
    return [{ hosts, auth: { strategy: 'header', header, prefix: auth?.prefix ?? BEARER, key } }];
  },
};
