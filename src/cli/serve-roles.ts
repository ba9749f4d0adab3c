/** The roles `pai serve --role` takes (src/main.ts ServeRole), for the CLI's fast path, the command tree and serve. */
import type { ServeRole } from '../main.js';

export const SERVE_ROLES: readonly ServeRole[] = ['all', 'admin', 'injector', 'webhook'];

/** Whether `text` names one of SERVE_ROLES. */
export function isServeRole(text: string): text is ServeRole {
  return (SERVE_ROLES as readonly string[]).includes(text);
}
