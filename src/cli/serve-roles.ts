/** The roles `pai serve --role` takes (src/main.ts ServeRole), for the CLI's fast path, the command tree and serve. */
import type { ServeRole } from '../main.js';

export const SERVE_ROLES: readonly ServeRole[] = ['all', 'admin', 'injector', 'webhook'];
