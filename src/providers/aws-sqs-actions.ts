/**
 * SQS resolver, both protocols: JSON (`X-Amz-Target: AmazonSQS.<Op>`, JSON body) and query
 * (`Action=<Op>` in the query or a form body; the queue as `QueueUrl=` or as the path
 * `/<account>/<queue>`). Batch operations resolve to the IAM action they need (SendMessageBatch →
 * sqs:SendMessage, …) so that a deny of the single form also stops the batch. Resource: the queue
 * ARN `arn:aws:sqs:<region>:<account>:<queue>` from its URL; a queue URL in another region than
 * the endpoint, or two different values for one parameter, are refused.
 */
import { mediaType, readFormBody } from '../policy/body.js';
import type { QueryParam } from '../policy/path.js';
import { needsBodyFor, refused, resolved } from '../policy/request.js';
import type { PolicyRequest, ResolvedAction } from '../policy/request.js';
import { arn } from './aws-arn.js';
import { jsonBodyObject, targetOperation } from './aws-json-actions.js';
import { jsonString } from '../policy/json-strict.js';

const IAM_ACTION: ReadonlyMap<string, string> = new Map([
  ['sendmessagebatch', 'SendMessage'],
  ['deletemessagebatch', 'DeleteMessage'],
  ['changemessagevisibilitybatch', 'ChangeMessageVisibility'],
]);
const OPERATION = /^[A-Za-z]+$/;
const QUEUE_PATH = /^\/(\d{12})\/([A-Za-z0-9_-]{1,80}(?:\.fifo)?)$/;
const QUEUE_URL = /^https?:\/\/([a-z0-9.-]+)(\/\d{12}\/[A-Za-z0-9_-]{1,80}(?:\.fifo)?)$/;
const QUEUE_HOST =
  /^(?:sqs\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?|([a-z0-9-]+)\.queue\.amazonaws\.com(?:\.cn)?|(queue)\.amazonaws\.com)$/;

/** `sqs:<IAM action>` for an SQS operation name. */
function sqsIamAction(op: string): string {
  return `sqs:${IAM_ACTION.get(op.toLowerCase()) ?? op}`;
}

/** The queue ARN of a queue URL, or a reason it is not one in `region`. */
export function queueArnFromUrl(url: string, region: string): string | { readonly why: string } {
  const m = QUEUE_URL.exec(url);
  const host = m?.[1] === undefined ? undefined : QUEUE_HOST.exec(m[1]);
  const path = m?.[2] === undefined ? undefined : QUEUE_PATH.exec(m[2]);
  if (host == null || path == null) return { why: 'SQS: QueueUrl is not an SQS queue URL' };
  const urlRegion = host[1] ?? host[2] ?? 'us-east-1';
  if (urlRegion !== region) return { why: 'SQS: QueueUrl is in another region than the endpoint' };
  return arn('sqs', region, path[1] ?? '', path[2] ?? '');
}

const CONFLICT = Symbol('conflict');

/** The one value of parameter `name` (compared case-insensitively) across `lists`; CONFLICT when they differ. */
function single(lists: readonly (readonly QueryParam[])[], name: string): string | undefined | typeof CONFLICT {
  const wanted = name.toLowerCase();
  let found: string | undefined;
  for (const list of lists) {
    for (const p of list) {
      if (p.name.toLowerCase() !== wanted) continue;
      if (found !== undefined && found !== p.value) return CONFLICT;
      found = p.value;
    }
  }
  return found;
}

function queueResource(
  op: string,
  region: string,
  url: string | undefined,
  name: string | undefined,
  owner: string | undefined,
): string | { why: string } | undefined {
  const lower = op.toLowerCase();
  if (lower === 'listqueues') return undefined;
  if (url !== undefined) return queueArnFromUrl(url, region);
  if ((lower === 'createqueue' || lower === 'getqueueurl') && name !== undefined) return arn('sqs', region, owner ?? '*', name);
  return arn('sqs', region, '*', '*'); // no queue named: every queue
}

function jsonProtocol(req: PolicyRequest, region: string, op: string): ResolvedAction {
  const action = sqsIamAction(op);
  if (op.toLowerCase() === 'listqueues') return resolved(action);
  const body = jsonBodyObject(req, action);
  if (body.kind !== 'object') return body;
  const resource = queueResource(
    op,
    region,
    jsonString(body, 'QueueUrl'),
    jsonString(body, 'QueueName'),
    jsonString(body, 'QueueOwnerAWSAccountId'),
  );
  return typeof resource === 'object' ? refused('bad_request', resource.why, action) : resolved(action, resource);
}

function queryProtocol(req: PolicyRequest, region: string): ResolvedAction {
  const lists: (readonly QueryParam[])[] = [req.query];
  if (req.method === 'POST') {
    if (req.body === undefined) return needsBodyFor('action');
    if (req.body.length > 0) {
      if (mediaType(req) !== 'application/x-www-form-urlencoded')
        return refused('bad_body', 'SQS: query-protocol body is not a form');
      const form = readFormBody(req.body);
      if (!form.ok) return refused('bad_body', `SQS: ${form.why}`);
      lists.push(form.value);
    }
  }
  const [op, url, name, owner] = ['Action', 'QueueUrl', 'QueueName', 'QueueOwnerAWSAccountId'].map((n) => single(lists, n));
  if (op === CONFLICT || url === CONFLICT || name === CONFLICT || owner === CONFLICT) {
    return refused('bad_request', 'SQS: a parameter given twice with different values');
  }
  if (op === undefined) return resolved();
  if (!OPERATION.test(op)) return refused('bad_request', 'SQS: Action is not an operation name');
  const pathQueue = QUEUE_PATH.exec(req.path);
  const fromPath = pathQueue === null ? undefined : `https://sqs.${region}.amazonaws.com${req.path}`;
  if (fromPath !== undefined && url !== undefined && url !== fromPath)
    return refused('bad_request', 'SQS: queue in the path and QueueUrl differ');
  if (pathQueue === null && req.path !== '/') return refused('bad_request', 'SQS: path is neither / nor /<account>/<queue>');
  const resource = queueResource(op, region, url ?? fromPath, name, owner);
  const action = sqsIamAction(op);
  return typeof resource === 'object' ? refused('bad_request', resource.why, action) : resolved(action, resource);
}

/** `sqs:<Action>` and queue ARN of an SQS request in `region`, JSON or query protocol. */
export function sqsAction(req: PolicyRequest, region: string): ResolvedAction {
  if (req.headers.has('x-amz-target')) {
    const op = targetOperation(req, 'AmazonSQS');
    return op === undefined ? refused('bad_request', 'SQS: unknown X-Amz-Target') : jsonProtocol(req, region, op);
  }
  return queryProtocol(req, region);
}
