/**
 * The pure injection core (DESIGN §6, §8): host canonicalisation and matching, per-strategy
 * mutations, SigV4. No I/O, no clock (callers pass `now`), no logging. The injector's gRPC glue
 * imports from here.
 */
export { awsScopeFromHost } from './aws-scope.js';
export type { AwsScope } from './aws-scope.js';
export { describeAuth, describeStrategy, REDACTED } from './describe.js';
export { canonicalAuthority, formatAuthority, requestHost } from './host.js';
export type { CanonicalHost, HostKind } from './host.js';
export { compileMatcher, matchTarget } from './match.js';
export type { HostMatcher } from './match.js';
export { assertHeaderValue, CREDENTIAL_HEADERS, removalsAfterSet, requireKey } from './mutation.js';
export type { HeaderEntry, HeaderMutation, InjectRequest, ValueSource } from './mutation.js';
export { queryMutation, telegramMutation, telegramPath, withQueryParam } from './path-strategies.js';
export { AWS_KEYS, AWS_SIGNING_HEADERS, signAws, sigv4Mutation } from './sigv4.js';
export type { AwsSignature, AwsSignInput } from './sigv4.js';
export {
  basicMutation,
  headerMutation,
  mutationFor,
  needsExtProc,
  needsExtProcError,
  oauthBearerMutation,
} from './strategies.js';
