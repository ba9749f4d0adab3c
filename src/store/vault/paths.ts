/**
 * Where pai's data lives under the KV v2 mount. The default namespace keeps the first layout
 * (`secrets/<name>`, `resources/<kind>/<name>`), so a Vault written before namespaces needs no
 * migration (the admin role could not read values to move them anyway); every other namespace
 * lives under `ns/<namespace>/`, which also lets a Vault policy confine a role to one namespace.
 * Cluster-wide documents (tokens) stay at `resources/<kind>/<name>`. Names and namespaces are
 * DNS labels (no "/"), so no two of these paths can be the same.
 */
import { DEFAULT_NAMESPACE } from '../../resources/types.js';

function prefix(ns: string): string {
  return ns === DEFAULT_NAMESPACE ? '' : `ns/${ns}/`;
}

/** The folder of a namespace's secrets (with a trailing "/", for LIST). */
export const secretsDir = (ns: string): string => `${prefix(ns)}secrets/`;
/** The path of one secret. */
export const secretPath = (ns: string, name: string): string => `${secretsDir(ns)}${name}`;
/** The folder of a namespace's resource documents of one kind. */
export const docsDir = (kind: string, ns: string): string => `${prefix(ns)}resources/${kind}/`;
/** The path of one resource document. */
export const docPath = (kind: string, ns: string, name: string): string => `${docsDir(kind, ns)}${name}`;
/** The folder of cluster-wide documents of one kind (tokens, agenttokens). */
export const clusterDir = (kind: string): string => `resources/${kind}/`;
/** The folder whose sub-folders are the namespaces other than the default one. */
export const NAMESPACES_DIR = 'ns/';
