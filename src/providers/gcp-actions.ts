/**
 * GCP action resolver: Cloud Storage only, as IAM permissions (`storage.objects.get|list|create|
 * delete|update`, `storage.buckets.get|list|create|delete|update|getIamPolicy|setIamPolicy`), for
 * the JSON API (`/storage/v1/b/{bucket}/o[/{object}]`, `/upload/…`, `/download/…`) and the XML API
 * (path-style `storage.googleapis.com/{bucket}/{object}` and `{bucket}.storage.googleapis.com`).
 * Resource: `projects/_/buckets/{bucket}` and `projects/_/buckets/{bucket}/objects/{object}` (the
 * object name decoded; listings as `…/objects/{prefix}*`, like S3). Other services: no action.
 * Cloud Storage encodes `/` in JSON-API object names, so this type allows `%2F` in paths.
 */
import { percentDecode, queryValues } from '../policy/path.js';
import { refused, resolved } from '../policy/request.js';
import type { ActionTarget, PolicyRequest, ResolvedAction } from '../policy/request.js';
import { lookAlikeProblem, pathSegments } from './segments.js';

const STORAGE = 'storage.googleapis.com';
const JSON_API_ROOTS = new Set(['storage', 'upload', 'download', 'batch']);
const OBJECT_VERB: Record<string, string> = {
  GET: 'get',
  HEAD: 'get',
  PUT: 'update',
  PATCH: 'update',
  POST: 'create',
  DELETE: 'delete',
};
const BUCKET_VERB: Record<string, string> = { GET: 'get', HEAD: 'get', PUT: 'update', PATCH: 'update', DELETE: 'delete' };

const bucketRes = (b: string): string => `projects/_/buckets/${b}`;
const objectRes = (b: string, o: string): string => `${bucketRes(b)}/objects/${o}`;

function listing(req: PolicyRequest, bucket: string): ResolvedAction {
  const prefixes = queryValues(req.query, 'prefix');
  if (prefixes.length > 1) return refused('bad_request', 'Cloud Storage: more than one "prefix"');
  return resolved('storage.objects.list', objectRes(bucket, `${prefixes[0] ?? ''}*`));
}

// /{b}/o/{o}/(copyTo|rewriteTo)/b/{db}/o/{do}: create the destination, read the source.
function copyAction(bucket: string, object: string, rest: readonly string[]): ResolvedAction {
  const [, b, db, o, dob] = rest;
  const dest = dob === undefined ? undefined : percentDecode(dob);
  if (rest.length !== 5 || b !== 'b' || o !== 'o' || db === undefined || dest === undefined) {
    return refused('bad_request', 'Cloud Storage: malformed copy or rewrite path');
  }
  const source: ActionTarget = { action: 'storage.objects.get', resource: objectRes(bucket, object) };
  return resolved('storage.objects.create', objectRes(db, dest), [source]);
}

function jsonApi(req: PolicyRequest, segs: readonly string[]): ResolvedAction {
  // /upload/storage/v1/… and /download/storage/v1/… are /storage/v1/… with a media body.
  const api = segs[0] === 'upload' || segs[0] === 'download' ? segs.slice(1) : segs;
  const [storage, v1, b, bucket, o, rawObject, ...rest] = api;
  if (storage !== 'storage' || v1 !== 'v1' || b !== 'b') return resolved();
  if (bucket === undefined)
    return req.method === 'GET'
      ? resolved('storage.buckets.list')
      : req.method === 'POST'
        ? resolved('storage.buckets.create', bucketRes('*'))
        : resolved();
  if (bucket.indexOf('%') !== -1) return refused('bad_request', 'Cloud Storage: encoded bucket name');
  if (o === undefined) {
    const verb = BUCKET_VERB[req.method];
    return resolved(verb === undefined ? undefined : `storage.buckets.${verb}`, bucketRes(bucket));
  }
  if (o === 'iam') {
    if (rest.length > 0 || rawObject !== undefined) return resolved(undefined, bucketRes(bucket));
    const verb = req.method === 'GET' ? 'getIamPolicy' : req.method === 'PUT' ? 'setIamPolicy' : undefined;
    return resolved(verb === undefined ? undefined : `storage.buckets.${verb}`, bucketRes(bucket));
  }
  if (o !== 'o') return resolved(undefined, bucketRes(bucket));
  if (rawObject === undefined) {
    if (req.method === 'GET') return listing(req, bucket);
    if (req.method !== 'POST' && req.method !== 'PUT') return resolved(undefined, bucketRes(bucket));
    // Uploads name the object in ?name= (a multipart or resumable upload may name it in the body).
    const names = queryValues(req.query, 'name');
    if (names.length > 1) return refused('bad_request', 'Cloud Storage: more than one "name"');
    return resolved('storage.objects.create', objectRes(bucket, names[0] ?? '*'));
  }
  const object = percentDecode(rawObject);
  if (object === undefined) return refused('bad_request', 'Cloud Storage: malformed object name encoding');
  if (rest[0] === 'copyTo' || rest[0] === 'rewriteTo') return copyAction(bucket, object, rest);
  if (rest[0] === 'compose' && rest.length === 1 && req.method === 'POST') {
    // Sources are in the body: any object of the bucket may be read.
    return resolved('storage.objects.create', objectRes(bucket, object), [
      { action: 'storage.objects.get', resource: objectRes(bucket, '*') },
    ]);
  }
  if (rest.length > 0) return resolved(undefined, objectRes(bucket, object));
  const verb = OBJECT_VERB[req.method];
  return resolved(verb === undefined || verb === 'create' ? undefined : `storage.objects.${verb}`, objectRes(bucket, object));
}

function xmlApi(req: PolicyRequest, bucket: string | undefined, rawObject: string): ResolvedAction {
  if (bucket === undefined || bucket.length === 0) return req.method === 'GET' ? resolved('storage.buckets.list') : resolved();
  if (bucket.indexOf('%') !== -1) return refused('bad_request', 'Cloud Storage: encoded bucket name');
  if (rawObject.length === 0) {
    if (req.method === 'GET') return listing(req, bucket);
    const verb: Record<string, string> = { HEAD: 'get', PUT: 'create', DELETE: 'delete' };
    const v = verb[req.method];
    return resolved(v === undefined ? undefined : `storage.buckets.${v}`, bucketRes(bucket));
  }
  const object = percentDecode(rawObject);
  if (object === undefined) return refused('bad_request', 'Cloud Storage: malformed object name encoding');
  const verb: Record<string, string> = { GET: 'get', HEAD: 'get', PUT: 'create', POST: 'create', DELETE: 'delete' };
  const v = verb[req.method];
  return resolved(v === undefined ? undefined : `storage.objects.${v}`, objectRes(bucket, object));
}

/** The Cloud Storage permission and resource of a GCP request; no action for other services. */
export function gcpAction(req: PolicyRequest): ResolvedAction {
  const virtualBucket = req.host.endsWith(`.${STORAGE}`) ? req.host.slice(0, -STORAGE.length - 1) : undefined;
  if (virtualBucket === undefined && req.host !== STORAGE) return resolved();
  if (req.path.indexOf(';') !== -1) return refused('bad_request', 'Cloud Storage: ";" in the path');
  if (virtualBucket !== undefined) return xmlApi(req, virtualBucket, req.path.slice(1));
  const segs = pathSegments(req.path);
  if (JSON_API_ROOTS.has(segs[0] ?? '')) {
    const lookAlike = lookAlikeProblem(req.path);
    return lookAlike === undefined ? jsonApi(req, segs) : refused('bad_request', `Cloud Storage: ${lookAlike}`);
  }
  const slash = req.path.indexOf('/', 1);
  return xmlApi(req, slash === -1 ? req.path.slice(1) : req.path.slice(1, slash), slash === -1 ? '' : req.path.slice(slash + 1));
}
