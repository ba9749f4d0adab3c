/**
 * S3 REST resolver: `s3:<Action>` from the method, bucket, key and the sub-resource query, for
 * path-style (`s3.<region>.amazonaws.com/<bucket>/<key>`) and virtual-host (`<bucket>.s3…`) forms.
 * Names follow IAM where IAM has one word for several operations (UploadPart, CompleteMultipart…
 * are s3:PutObject; ListObjectsV2 is s3:ListBucket; a versioned GET or DELETE stays s3:GetObject /
 * s3:DeleteObject, so a deny of either also stops the versioned form), and Pai's own s3:HeadObject.
 * Resources: `arn:aws:s3:::bucket/key` for objects, `arn:aws:s3:::bucket` for bucket settings, and
 * `arn:aws:s3:::bucket/<prefix>*` for listings (the keys a listing can reveal).
 */
import { percentDecode, queryValues } from '../policy/path.js';
import { refused, resolved } from '../policy/request.js';
import type { ActionTarget, PolicyRequest, ResolvedAction } from '../policy/request.js';
import { partitionOf } from './aws-arn.js';

type Verbs = readonly [get?: string, put?: string, del?: string];
// Bucket settings: sub-resource → [GET, PUT, DELETE] action (IAM's names; a DELETE of most
// configurations is their Put… permission in IAM).
const BUCKET_SUB: ReadonlyMap<string, Verbs> = new Map<string, Verbs>([
  ['acl', ['GetBucketAcl', 'PutBucketAcl']],
  ['policy', ['GetBucketPolicy', 'PutBucketPolicy', 'DeleteBucketPolicy']],
  ['tagging', ['GetBucketTagging', 'PutBucketTagging', 'PutBucketTagging']],
  ['cors', ['GetBucketCORS', 'PutBucketCORS', 'PutBucketCORS']],
  ['lifecycle', ['GetLifecycleConfiguration', 'PutLifecycleConfiguration', 'PutLifecycleConfiguration']],
  ['versioning', ['GetBucketVersioning', 'PutBucketVersioning']],
  ['location', ['GetBucketLocation']],
  ['website', ['GetBucketWebsite', 'PutBucketWebsite', 'DeleteBucketWebsite']],
  ['encryption', ['GetEncryptionConfiguration', 'PutEncryptionConfiguration', 'PutEncryptionConfiguration']],
  ['notification', ['GetBucketNotification', 'PutBucketNotification']],
  ['logging', ['GetBucketLogging', 'PutBucketLogging']],
  ['replication', ['GetReplicationConfiguration', 'PutReplicationConfiguration', 'PutReplicationConfiguration']],
  ['publicAccessBlock', ['GetBucketPublicAccessBlock', 'PutBucketPublicAccessBlock', 'PutBucketPublicAccessBlock']],
  ['ownershipControls', ['GetBucketOwnershipControls', 'PutBucketOwnershipControls', 'PutBucketOwnershipControls']],
  ['object-lock', ['GetBucketObjectLockConfiguration', 'PutBucketObjectLockConfiguration']],
  ['requestPayment', ['GetBucketRequestPayment', 'PutBucketRequestPayment']],
  ['accelerate', ['GetAccelerateConfiguration', 'PutAccelerateConfiguration']],
  ['policyStatus', ['GetBucketPolicyStatus']],
]);
const OBJECT_SUB: ReadonlyMap<string, Verbs> = new Map<string, Verbs>([
  ['acl', ['GetObjectAcl', 'PutObjectAcl']],
  ['tagging', ['GetObjectTagging', 'PutObjectTagging', 'DeleteObjectTagging']],
  ['retention', ['GetObjectRetention', 'PutObjectRetention']],
  ['legal-hold', ['GetObjectLegalHold', 'PutObjectLegalHold']],
  ['torrent', ['GetObjectTorrent']],
  ['attributes', ['GetObjectAttributes']],
]);
// Sub-resources that select an operation. Any other parameter (x-id, prefix, versionId,
// partNumber, response-*, X-Amz-*) does not change the operation, and S3 ignores unknown ones.
const SELECTORS = new Set([
  ...BUCKET_SUB.keys(),
  ...OBJECT_SUB.keys(),
  ...['versions', 'uploads', 'delete', 'uploadId', 'restore', 'select'],
  ...['analytics', 'inventory', 'metrics', 'intelligent-tiering', 'session', 'metadataTable', 'renameObject'],
]);

interface S3Target {
  readonly bucket: string;
  readonly key: string; // decoded; "" for the bucket itself
}

const S3_LABEL = /^s3(?:-fips|-external-1|-[a-z]{2}(?:-[a-z]+)+-\d{1,2})?$/;

/** Bucket and raw key of an S3 request: virtual-host when the host names the bucket, else path-style. */
function target(req: PolicyRequest): S3Target | 'service' | 'unknown' | 'bad' {
  const labels = req.host.split('.');
  // The last s3 label: a bucket name may itself hold an "s3" label (my.s3.bucket.s3.amazonaws.com).
  const s3 = labels.findLastIndex((label) => S3_LABEL.test(label));
  if (s3 === -1) return 'unknown'; // access points, s3-control, directory buckets
  let bucket = labels.slice(0, s3).join('.');
  let rawKey = req.path.slice(1);
  if (bucket.length === 0) {
    const slash = rawKey.indexOf('/');
    bucket = slash === -1 ? rawKey : rawKey.slice(0, slash);
    rawKey = slash === -1 ? '' : rawKey.slice(slash + 1);
    if (bucket.length === 0) return 'service';
  }
  const key = percentDecode(rawKey);
  return key === undefined || bucket.indexOf('%') !== -1 ? 'bad' : { bucket, key };
}

function copySource(req: PolicyRequest, partition: string): ActionTarget | undefined | 'bad' {
  const header = req.headers.get('x-amz-copy-source');
  if (header === undefined) return undefined;
  const raw = header.startsWith('/') ? header.slice(1) : header;
  const q = raw.indexOf('?');
  const decoded = percentDecode(q === -1 ? raw : raw.slice(0, q));
  const slash = decoded === undefined ? -1 : decoded.indexOf('/');
  if (decoded === undefined || slash < 1 || slash === decoded.length - 1 || header.indexOf(',') !== -1) return 'bad';
  return { action: 's3:GetObject', resource: `arn:${partition}:s3:::${decoded}` };
}

function bucketAction(req: PolicyRequest, sub: string | undefined, bucketArn: string): ResolvedAction {
  const m = req.method;
  if (sub === undefined || sub === 'versions' || sub === 'uploads') {
    const prefixes = queryValues(req.query, 'prefix');
    if (prefixes.length > 1) return refused('bad_request', 'S3: more than one "prefix"');
    const listing = `${bucketArn}/${prefixes[0] ?? ''}*`;
    if (m === 'GET' || m === 'HEAD') {
      const action = sub === 'versions' ? 'ListBucketVersions' : sub === 'uploads' ? 'ListBucketMultipartUploads' : 'ListBucket';
      return resolved(`s3:${action}`, listing);
    }
    if (sub !== undefined) return resolved(undefined, bucketArn);
    if (m === 'PUT') return resolved('s3:CreateBucket', bucketArn);
    if (m === 'DELETE') return resolved('s3:DeleteBucket', bucketArn);
    if (m === 'POST') return resolved('s3:PutObject', `${bucketArn}/*`); // browser-form upload, key in the body
    return resolved(undefined, bucketArn);
  }
  if (sub === 'delete') return m === 'POST' ? resolved('s3:DeleteObject', `${bucketArn}/*`) : resolved(undefined, bucketArn);
  const verbs = BUCKET_SUB.get(sub);
  const action =
    verbs === undefined ? undefined : m === 'GET' ? verbs[0] : m === 'PUT' ? verbs[1] : m === 'DELETE' ? verbs[2] : undefined;
  return resolved(action === undefined ? undefined : `s3:${action}`, bucketArn);
}

function objectAction(req: PolicyRequest, sub: string | undefined, objectArn: string): ResolvedAction {
  const m = req.method;
  const copy = copySource(req, objectArn.split(':')[1] ?? 'aws');
  if (copy === 'bad') return refused('bad_request', 'S3: malformed x-amz-copy-source');
  if (m === 'PUT' && (sub === undefined || sub === 'uploadId')) {
    return resolved('s3:PutObject', objectArn, copy === undefined ? undefined : [copy]);
  }
  if (copy !== undefined) return refused('bad_request', 'S3: x-amz-copy-source on an operation that does not copy');
  if (sub === undefined) {
    const plain: Record<string, string> = { GET: 'GetObject', HEAD: 'HeadObject', DELETE: 'DeleteObject' };
    const action = plain[m];
    return resolved(action === undefined ? undefined : `s3:${action}`, objectArn);
  }
  if (sub === 'uploadId') {
    const upload: Record<string, string> = { GET: 'ListMultipartUploadParts', POST: 'PutObject', DELETE: 'AbortMultipartUpload' };
    const action = upload[m];
    return resolved(action === undefined ? undefined : `s3:${action}`, objectArn);
  }
  if (m === 'POST') {
    const post: Record<string, string> = { uploads: 'PutObject', restore: 'RestoreObject', select: 'GetObject' };
    const action = post[sub];
    return resolved(action === undefined ? undefined : `s3:${action}`, objectArn);
  }
  const verbs = OBJECT_SUB.get(sub);
  const action =
    verbs === undefined ? undefined : m === 'GET' ? verbs[0] : m === 'PUT' ? verbs[1] : m === 'DELETE' ? verbs[2] : undefined;
  return resolved(action === undefined ? undefined : `s3:${action}`, objectArn);
}

/** The S3 action and ARN of a request to an S3 endpoint in `region`; refused for ambiguous sub-resources and bad encodings. */
export function s3Action(req: PolicyRequest, region: string): ResolvedAction {
  const where = target(req);
  if (where === 'unknown') return resolved();
  if (where === 'bad') return refused('bad_request', 'S3: malformed bucket or key encoding');
  if (where === 'service') return req.method === 'GET' ? resolved('s3:ListAllMyBuckets') : resolved();
  const subs = new Set(req.query.map((p) => p.name).filter((n) => SELECTORS.has(n)));
  if (subs.size > 1) return refused('bad_request', 'S3: more than one sub-resource in the query');
  const [sub] = subs;
  const bucketArn = `arn:${partitionOf(region)}:s3:::${where.bucket}`;
  return where.key.length === 0 ? bucketAction(req, sub, bucketArn) : objectAction(req, sub, `${bucketArn}/${where.key}`);
}
