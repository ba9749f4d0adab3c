/**
 * Path helpers shared by the action resolvers. Paths reach resolvers in normal form (see
 * src/policy/path.ts), so segments are never empty except a trailing one, and never dot segments.
 */

/** The path's segments after the leading `/` (a trailing `/` gives a last "" segment). */
export function pathSegments(path: string): string[] {
  return path.slice(1).split('/');
}

/** True for methods that only read (GET, HEAD). */
export function isRead(method: string): boolean {
  return method === 'GET' || method === 'HEAD';
}

/** True for the methods that change state on REST APIs (POST, PUT, PATCH, DELETE). */
export function isWrite(method: string): boolean {
  return method === 'POST' || method === 'PUT' || method === 'PATCH' || method === 'DELETE';
}

/**
 * Why a path is a look-alike of an API method path rather than one: a trailing `/` or a `;`
 * (matrix parameters, which some servers strip before routing). Undefined when neither.
 */
export function lookAlikeProblem(path: string): string | undefined {
  if (path.length > 1 && path.endsWith('/')) return 'trailing "/" in the path';
  if (path.indexOf(';') !== -1) return '";" in the path';
  return undefined;
}
