/**
 * Azure action resolver: ARM requests on management.azure.com as RBAC operations. A resource path
 * `…/providers/Microsoft.X/{type}/{name}[/{childType}/{childName}…]` gives
 * `Microsoft.X/{type}[/{childType}…]/read|write|delete` by method (GET/HEAD read, PUT/PATCH write,
 * DELETE delete), a POST to `…/{name}/{action}` gives `…/{action}/action`, and a GET of a collection
 * `…/{type}s` its `/read`. Extension resources (`…/{name}/providers/Microsoft.Authorization/
 * roleAssignments/{id}`) take the operation of the last provider. Subscriptions and resource groups
 * are `Microsoft.Resources/subscriptions[/resourceGroups]/…`. Resource: the ARM id as sent (scope
 * compares it lower-cased; ARM ids are case-insensitive); path words compare case-insensitively.
 * Blob storage (`<account>.blob.core.windows.net`) resolves to the data actions Azure RBAC names
 * (`…/blobServices/containers/blobs/read|write|delete`, `…/containers/read|write|delete` for
 * container operations), resource `<account>/<container>[/<blob>]`, so Pai's documented storage
 * policy applies. Other data-plane hosts (queue, key vault, …) resolve to no action.
 */
import { refused, resolved } from '../policy/request.js';
import type { PolicyRequest, ResolvedAction } from '../policy/request.js';
import { lookAlikeProblem, pathSegments } from './segments.js';

const ARM = 'management.azure.com';
const NAMESPACE = /^[A-Za-z][A-Za-z0-9]*(?:\.[A-Za-z][A-Za-z0-9]*)+$/;
const VERB: Record<string, string> = { GET: 'read', HEAD: 'read', PUT: 'write', PATCH: 'write', DELETE: 'delete' };
const low = (s: string | undefined): string => (s ?? '').toLowerCase();

/** `{op}/{verb}` for the method, or undefined for methods that name no operation. */
function verbOf(op: string, method: string): string | undefined {
  const verb = VERB[method];
  return verb === undefined ? undefined : `${op}/${verb}`;
}

const idOf = (segs: readonly string[], n: number): string => `/${segs.slice(0, n).join('/')}`;

// segs[start] is "providers": walk namespace, then type/name pairs; a "providers" in a type
// position starts an extension resource with its own namespace.
function providerOperation(method: string, segs: readonly string[], start: number): ResolvedAction {
  let ns = '';
  let types: string[] = [];
  let i = start;
  let odd = false; // a type without its name at the end
  while (i < segs.length) {
    const seg = segs[i] ?? '';
    if (low(seg) === 'providers' && !odd) {
      const next = segs[i + 1];
      if (next === undefined) return resolved(undefined, idOf(segs, segs.length)); // a provider listing
      if (!NAMESPACE.test(next)) return refused('bad_request', 'Azure: "providers" not followed by a namespace');
      ns = next;
      types = [];
      i += 2;
      continue;
    }
    if (!odd) types.push(seg);
    odd = !odd;
    i++;
  }
  if (ns === '' || types.length === 0) return resolved(undefined, idOf(segs, segs.length));
  const op = `${ns}/${types.join('/')}`;
  if (!odd) return resolved(verbOf(op, method), idOf(segs, segs.length));
  // Ends on a type: a POST action on the resource before it, or a GET of a collection.
  if (method === 'POST' && types.length >= 2) {
    const action = types[types.length - 1] ?? '';
    return resolved(`${ns}/${types.slice(0, -1).join('/')}/${action}/action`, idOf(segs, segs.length - 1));
  }
  return resolved(method === 'GET' ? `${op}/read` : undefined, idOf(segs, segs.length));
}

function resourceGroupsOperation(method: string, segs: readonly string[]): ResolvedAction {
  const rg = 'Microsoft.Resources/subscriptions/resourceGroups';
  if (segs.length === 3) return resolved(method === 'GET' ? `${rg}/read` : undefined, idOf(segs, 3));
  if (segs.length === 4) return resolved(verbOf(rg, method), idOf(segs, 4));
  const section = low(segs[4]);
  if (section === 'providers') return providerOperation(method, segs, 4);
  if (section === 'resources' && segs.length === 5)
    return resolved(method === 'GET' ? `${rg}/resources/read` : undefined, idOf(segs, 4));
  return resolved(undefined, idOf(segs, 4));
}

const BLOB_HOST = /^([a-z0-9]{3,24})\.blob\.core\.windows\.net$/;
const CONTAINERS = 'Microsoft.Storage/storageAccounts/blobServices/containers';

/** Blob service REST (learn.microsoft.com "Blob service REST API"): the data action of a request. */
function blobAction(req: PolicyRequest, account: string): ResolvedAction {
  const lookAlike = lookAlikeProblem(req.path);
  if (lookAlike !== undefined) return refused('bad_request', `Azure Storage: ${lookAlike}`);
  const segs = pathSegments(req.path).filter((s) => s !== '');
  const param = (name: string): string | undefined => req.query.find((q) => q.name === name)?.value;
  const verb = VERB[req.method];
  const container = segs[0];
  if (container === undefined) {
    // The account: `?comp=list` lists containers; service properties and stats are not blob data.
    return resolved(req.method === 'GET' && param('comp') === 'list' ? `${CONTAINERS}/read` : undefined, account);
  }
  if (segs.length === 1 && param('restype') === 'container') {
    const listing = req.method === 'GET' && param('comp') === 'list';
    return resolved(listing ? `${CONTAINERS}/blobs/read` : verb && `${CONTAINERS}/${verb}`, `${account}/${container}`);
  }
  if (segs.length === 1) return resolved(undefined, `${account}/${container}`);
  return resolved(verb && `${CONTAINERS}/blobs/${verb}`, `${account}/${segs.join('/')}`);
}

/** The RBAC operation and ARM id of an Azure request; no action off ARM and Blob storage, or for paths it does not know. */
export function azureAction(req: PolicyRequest): ResolvedAction {
  const blob = BLOB_HOST.exec(req.host);
  if (blob?.[1] !== undefined) return blobAction(req, blob[1]);
  if (req.host !== ARM) return resolved();
  const lookAlike = lookAlikeProblem(req.path);
  if (lookAlike !== undefined) return refused('bad_request', `Azure: ${lookAlike}`);
  const segs = pathSegments(req.path);
  const sub = 'Microsoft.Resources/subscriptions';
  const first = low(segs[0]);
  if (first === 'providers') return providerOperation(req.method, segs, 0);
  if (first !== 'subscriptions') return resolved();
  if (segs.length === 1) return resolved(req.method === 'GET' ? `${sub}/read` : undefined);
  if (segs.length === 2) return resolved(req.method === 'GET' ? `${sub}/read` : undefined, idOf(segs, 2));
  const section = low(segs[2]);
  if (section === 'resourcegroups') return resourceGroupsOperation(req.method, segs);
  if (section === 'providers') return providerOperation(req.method, segs, 2);
  if (section === 'resources' && segs.length === 3)
    return resolved(req.method === 'GET' ? `${sub}/resources/read` : undefined, idOf(segs, 2));
  return resolved(undefined, idOf(segs, 2));
}
