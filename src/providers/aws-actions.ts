/**
 * AWS action resolver: IAM-form `service:Action` and resource ARN, by the service of the endpoint
 * host (src/inject/aws-scope.ts): S3 REST, SQS (JSON and query protocol), DynamoDB and Secrets
 * Manager (JSON protocol), Lambda function calls and STS (query protocol). Other services resolve
 * to no action: guessing their IAM prefix from the host (CloudWatch signs as "monitoring") would
 * give names a deny list does not catch.
 */
import { awsScopeFromHost } from '../inject/aws-scope.js';
import type { AwsScope } from '../inject/aws-scope.js';
import { mediaType, readFormBody } from '../policy/body.js';
import { percentDecode, queryValues } from '../policy/path.js';
import type { QueryParam } from '../policy/path.js';
import { needsBodyFor, refused, resolved } from '../policy/request.js';
import type { PolicyRequest, ResolvedAction } from '../policy/request.js';
import { arn, looksLikeArn } from './aws-arn.js';
import { dynamodbAction, secretsManagerAction } from './aws-json-actions.js';
import { s3Action } from './aws-s3-actions.js';
import { sqsAction } from './aws-sqs-actions.js';
import { pathSegments } from './segments.js';

const OPERATION = /^[A-Za-z]+$/;
// /<version>/functions/<name>/<call>: every form of calling a function needs lambda:InvokeFunction.
const INVOKE_PATHS = new Set(['2015-03-31/invocations', '2014-11-13/invoke-async', '2021-11-15/response-streaming-invocations']);
const FUNCTION_WITH_ACCOUNT = /^(\d{12}):function:(.+)$/;

function functionArn(name: string, region: string, qualifier: string | undefined): string {
  let full: string;
  if (looksLikeArn(name)) full = name;
  else {
    const m = FUNCTION_WITH_ACCOUNT.exec(name);
    full =
      m === null ? arn('lambda', region, '*', `function:${name}`) : arn('lambda', region, m[1] ?? '*', `function:${m[2] ?? ''}`);
  }
  return qualifier === undefined ? full : `${full}:${qualifier}`;
}

function lambdaAction(req: PolicyRequest, region: string): ResolvedAction {
  const segs = pathSegments(req.path.endsWith('/') ? req.path.slice(0, -1) : req.path);
  const [version, functions, rawName, call, ...more] = segs;
  if (functions !== 'functions' || version === undefined) return resolved();
  if (rawName === undefined) return req.method === 'GET' ? resolved('lambda:ListFunctions') : resolved();
  const name = percentDecode(rawName);
  const qualifiers = queryValues(req.query, 'Qualifier');
  if (name === undefined || qualifiers.length > 1) return refused('bad_request', 'Lambda: malformed function name or Qualifier');
  const resource = functionArn(name, region, qualifiers[0]);
  if (more.length > 0) return resolved(undefined, resource);
  if (call !== undefined && INVOKE_PATHS.has(`${version}/${call}`)) return resolved('lambda:InvokeFunction', resource);
  const plain: Record<string, string> = {
    'GET ': 'GetFunction',
    'DELETE ': 'DeleteFunction',
    'PUT code': 'UpdateFunctionCode',
    'PUT configuration': 'UpdateFunctionConfiguration',
    'GET configuration': 'GetFunctionConfiguration',
  };
  const action = plain[`${req.method} ${call ?? ''}`];
  return resolved(action === undefined ? undefined : `lambda:${action}`, resource);
}

function stsAction(req: PolicyRequest): ResolvedAction {
  const lists: (readonly QueryParam[])[] = [req.query];
  if (req.method === 'POST') {
    if (req.body === undefined) return needsBodyFor('action');
    if (req.body.length > 0 && mediaType(req) === 'application/x-www-form-urlencoded') {
      const form = readFormBody(req.body);
      if (!form.ok) return refused('bad_body', `STS: ${form.why}`);
      lists.push(form.value);
    }
  }
  const actions = new Set(lists.flatMap((l) => l.filter((p) => p.name.toLowerCase() === 'action').map((p) => p.value)));
  if (actions.size > 1) return refused('bad_request', 'STS: more than one Action');
  const [op] = actions;
  if (op === undefined) return resolved();
  if (!OPERATION.test(op)) return refused('bad_request', 'STS: Action is not an operation name');
  const roles = new Set(lists.flatMap((l) => queryValues(l, 'RoleArn')));
  if (roles.size > 1) return refused('bad_request', 'STS: more than one RoleArn');
  const [role] = roles;
  return resolved(`sts:${op}`, role);
}

/** `service:Action` and ARN of a request to an AWS endpoint; no action for hosts and services it does not know. */
export function awsAction(req: PolicyRequest): ResolvedAction {
  let scope: AwsScope;
  try {
    scope = awsScopeFromHost(req.host);
  } catch {
    return resolved();
  }
  switch (scope.service) {
    case 's3':
      return s3Action(req, scope.region);
    case 'sqs':
      return sqsAction(req, scope.region);
    case 'dynamodb':
      return dynamodbAction(req, scope.region);
    case 'secretsmanager':
      return secretsManagerAction(req, scope.region);
    case 'lambda':
      return lambdaAction(req, scope.region);
    case 'sts':
      return stsAction(req);
    default:
      return resolved();
  }
}
