/**
 * The parsed shapes of a Provider's `policy`, `scope` and `audit` blocks (PAI.md), as the resource
 * parser produces them and the policy core compiles them. Types only.
 */

/**
 * One `policy.httpRules[]` entry. methods: HTTP method names as written (compared
 * case-insensitively); paths: globs where `*` matches any characters, `/` included.
 */
export interface HttpRule {
  readonly methods: readonly string[];
  readonly paths: readonly string[];
  readonly effect: 'allow' | 'deny';
}

export interface McpToolPolicy {
  /** Absent or empty: every tool. */
  readonly allowedTools?: readonly string[];
  /** Absent: none. */
  readonly deniedTools?: readonly string[];
}

export interface ProviderPolicy {
  /** Absent: ["*"] (decided). */
  readonly allow?: readonly string[];
  /** Absent: []. */
  readonly deny?: readonly string[];
  readonly httpRules?: readonly HttpRule[];
  readonly mcp?: McpToolPolicy;
}

export interface ProviderScope {
  /** GitHub "org/repo", compared case-insensitively. */
  readonly repositories?: readonly string[];
  /** Slack channel ids or names. */
  readonly channels?: readonly string[];
  /** ARN / resource globs with `*`. */
  readonly resources?: readonly string[];
}

export interface ProviderAudit {
  /** Default true. */
  readonly logRequests?: boolean;
  /** Default enforce. */
  readonly enforcement?: 'enforce' | 'audit';
}
