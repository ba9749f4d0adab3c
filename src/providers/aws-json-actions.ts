/**
 * AWS JSON-protocol resolvers (X-Amz-Target `<Prefix>.<Operation>`, JSON body): DynamoDB and
 * Secrets Manager. The action is `<service>:<Operation>`; the resource comes from the body
 * (TableName, SecretId, …), so these need the body whenever the Provider scopes resources.
 * Operations that touch several resources list the others in `also`; an operation whose
 * resources cannot be told (PartiQL, a filtered batch) takes the widest ARN of its kind.
 */
import { readJsonBody } from '../policy/body.js';
import { isJsonObject, jsonField, jsonString } from '../policy/json-strict.js';
import type { JsonObject, JsonValue } from '../policy/json-strict.js';
import { needsBodyFor, refused, resolved } from '../policy/request.js';
import type { ActionTarget, PolicyRequest, ResolvedAction } from '../policy/request.js';
import { arn, looksLikeArn } from './aws-arn.js';

const OPERATION = /^[A-Za-z]+$/;

/** The operation of an X-Amz-Target `<prefix>.<Operation>` header (prefix compared case-insensitively), or undefined. */
export function targetOperation(req: PolicyRequest, prefix: string): string | undefined {
  const target = req.headers.get('x-amz-target');
  if (target === undefined) return undefined;
  const dot = target.lastIndexOf('.');
  if (dot === -1 || target.slice(0, dot).toLowerCase() !== prefix.toLowerCase()) return undefined;
  const op = target.slice(dot + 1);
  return OPERATION.test(op) ? op : undefined;
}

/** The JSON body as an object, or the refusal / needs-body answer to return instead. */
export function jsonBodyObject(req: PolicyRequest, action: string): JsonObject | ResolvedAction {
  if (req.body === undefined) return needsBodyFor('resource', action);
  const json = readJsonBody(req.body);
  if (!json.ok) return refused('bad_body', json.why, action);
  return isJsonObject(json.value) ? json.value : refused('bad_body', 'JSON body is not an object', action);
}

function isAnswer(v: JsonObject | ResolvedAction): v is ResolvedAction {
  return v.kind !== 'object';
}

// DynamoDB operations without a table.
const DYNAMO_NO_TABLE = new Set([
  'ListTables',
  'ListBackups',
  'ListGlobalTables',
  'DescribeLimits',
  'DescribeEndpoints',
  'ListExports',
  'ListImports',
]);
// Transaction element → the IAM action it needs on its table.
const TRANSACT_ITEM: ReadonlyMap<string, string> = new Map([
  ['put', 'PutItem'],
  ['update', 'UpdateItem'],
  ['delete', 'DeleteItem'],
  ['conditioncheck', 'ConditionCheckItem'],
  ['get', 'GetItem'],
]);

function tableArn(region: string, name: string): string {
  return looksLikeArn(name) ? name : arn('dynamodb', region, '*', `table/${name}`);
}

function dynamoTargets(op: string, body: JsonObject, region: string): ActionTarget[] | string {
  const action = `dynamodb:${op}`;
  const direct = jsonString(body, 'TableName') ?? jsonString(body, 'TableArn') ?? jsonString(body, 'ResourceArn');
  if (direct !== undefined) return [{ action, resource: tableArn(region, direct) }];
  const requestItems = jsonField(body, 'RequestItems');
  if (isJsonObject(requestItems)) {
    // The keys as written: table names are case-sensitive.
    if (requestItems.keys.length === 0) return 'empty RequestItems';
    return requestItems.keys.map((name) => ({ action, resource: tableArn(region, name) }));
  }
  const items = jsonField(body, 'TransactItems');
  if (Array.isArray(items)) {
    const targets: ActionTarget[] = [];
    for (const item of items as readonly JsonValue[]) {
      if (!isJsonObject(item) || item.fields.size !== 1) return 'TransactItems element is not a single-key object';
      const [kind, inner] = [...item.fields][0] ?? [];
      const table = jsonString(inner, 'TableName');
      const implied = kind === undefined ? undefined : TRANSACT_ITEM.get(kind);
      if (table === undefined || implied === undefined) return 'TransactItems element without a known kind and TableName';
      targets.push({ action: `dynamodb:${implied}`, resource: tableArn(region, table) });
    }
    return [{ action, resource: targets[0]?.resource ?? arn('dynamodb', region, '*', 'table/*') }, ...targets];
  }
  return [{ action, resource: arn('dynamodb', region, '*', 'table/*') }];
}

/** DynamoDB `dynamodb:<Operation>` and table ARN(s) (`arn:aws:dynamodb:<region>:*:table/<name>` for a name). */
export function dynamodbAction(req: PolicyRequest, region: string): ResolvedAction {
  const op = targetOperation(req, 'DynamoDB_20120810');
  // No action for other targets (DynamoDB Streams shares the signing name) and for no target.
  if (op === undefined) return resolved();
  if (DYNAMO_NO_TABLE.has(op)) return resolved(`dynamodb:${op}`);
  const body = jsonBodyObject(req, `dynamodb:${op}`);
  if (isAnswer(body)) return body;
  const targets = dynamoTargets(op, body, region);
  if (typeof targets === 'string') return refused('bad_body', `DynamoDB: ${targets}`, `dynamodb:${op}`);
  const [first, ...rest] = targets;
  return resolved(`dynamodb:${op}`, first?.resource, rest);
}

function secretArn(region: string, id: string): string {
  return looksLikeArn(id) ? id : arn('secretsmanager', region, '*', `secret:${id}`);
}

/** Secrets Manager `secretsmanager:<Operation>` and secret ARN (`arn:aws:secretsmanager:<region>:*:secret:<name>` for a name). */
export function secretsManagerAction(req: PolicyRequest, region: string): ResolvedAction {
  const op = targetOperation(req, 'secretsmanager');
  if (op === undefined) return resolved();
  const action = `secretsmanager:${op}`;
  if (op === 'ListSecrets' || op === 'GetRandomPassword') return resolved(action);
  const body = jsonBodyObject(req, action);
  if (isAnswer(body)) return body;
  const id = jsonString(body, 'SecretId') ?? jsonString(body, 'Name');
  if (id !== undefined) return resolved(action, secretArn(region, id));
  const list = jsonField(body, 'SecretIdList');
  if (
    op === 'BatchGetSecretValue' &&
    Array.isArray(list) &&
    list.every((x): x is string => typeof x === 'string') &&
    list.length > 0
  ) {
    const reads = (list as readonly string[]).map((s) => ({
      action: 'secretsmanager:GetSecretValue',
      resource: secretArn(region, s),
    }));
    return resolved(action, reads[0]?.resource, reads);
  }
  // A filtered batch, or an operation naming no secret: every secret it could reach.
  const all = arn('secretsmanager', region, '*', 'secret:*');
  return resolved(action, all, op === 'BatchGetSecretValue' ? [{ action: 'secretsmanager:GetSecretValue', resource: all }] : []);
}
