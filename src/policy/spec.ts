/**
 * The parsed `policy`, `scope` and `audit` blocks of a Provider, as the resource parser produces
 * them (the shapes of the issue-13 hand-off). The policy core consumes only these; it does not
 * import the resource model, so the two can change apart.
 */

/** One `policy.httpRules[]` entry. methods: HTTP method names as written (compare case-insensitively);
 *  paths: globs where `*` matches any characters, `/` included. */
export interface HttpRule {
  readonly methods: readonly string[];
  readonly paths: readonly string[];
  readonly effect: 'allow' | 'deny';
}
export interface McpToolPolicy {
  readonly allowedTools?: readonly string[]; // absent or empty = all
  readonly deniedTools?: readonly string[]; // absent = none
}
export interface ProviderPolicy {
  readonly allow?: readonly string[]; // absent = ["*"] (decided)
  readonly deny?: readonly string[]; // absent = []
  readonly httpRules?: readonly HttpRule[];
  readonly mcp?: McpToolPolicy;
}
export interface ProviderScope {
  readonly repositories?: readonly string[]; // github "org/repo", case-insensitive
  readonly channels?: readonly string[]; // slack channel ids/names
  readonly resources?: readonly string[]; // ARN / resource globs with `*`
}
export interface ProviderAudit {
  readonly logRequests?: boolean; // default true
  readonly enforcement?: 'enforce' | 'audit'; // default enforce
}
