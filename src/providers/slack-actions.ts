/**
 * Slack action resolver: the Web API method of `/api/<method>`, and as resource the channel the
 * call names. Slack takes arguments from the query, a form body or a JSON body, and merges them;
 * every `channel`, `channel_id` and comma-separated `channels` value found anywhere is collected.
 * The first is the resource, the others must pass scope too (ActionTarget `also`), so a second
 * channel cannot ride along. Multipart bodies are not read: refused, which denies only when the Provider scopes channels.
 */
import { isJsonObject, jsonField } from '../policy/json-strict.js';
import type { JsonValue } from '../policy/json-strict.js';
import { mediaType, readFormBody, readJsonBody } from '../policy/body.js';
import type { QueryParam } from '../policy/path.js';
import { needsBodyFor, refused, resolved } from '../policy/request.js';
import type { PolicyRequest, ResolvedAction } from '../policy/request.js';
import { lookAlikeProblem, pathSegments } from './segments.js';

const METHOD = /^[A-Za-z][A-Za-z0-9]*(?:\.[A-Za-z][A-Za-z0-9]*)+$/;
const CHANNEL_ARGS = ['channel', 'channel_id'];

function fromParams(params: readonly QueryParam[], into: string[]): void {
  for (const p of params) {
    if (CHANNEL_ARGS.includes(p.name)) into.push(p.value);
    else if (p.name === 'channels') into.push(...p.value.split(','));
  }
}

function fromJson(body: JsonValue, into: string[]): string | undefined {
  if (!isJsonObject(body)) return 'JSON body is not an object';
  for (const name of [...CHANNEL_ARGS, 'channels']) {
    const v = jsonField(body, name);
    if (v === undefined || v === null) continue;
    if (typeof v === 'string') into.push(...(name === 'channels' ? v.split(',') : [v]));
    else if (Array.isArray(v) && v.every((x): x is string => typeof x === 'string')) into.push(...v);
    else return `JSON argument "${name}" is not a string`;
  }
  return undefined;
}

function channelsOf(req: PolicyRequest, body: Buffer): { readonly channels: string[] } | { readonly why: string } {
  const channels: string[] = [];
  fromParams(req.query, channels);
  const type = mediaType(req);
  if (body.length === 0) return { channels };
  if (type === 'application/x-www-form-urlencoded') {
    const form = readFormBody(body);
    if (!form.ok) return { why: form.why };
    fromParams(form.value, channels);
  } else if (type === 'application/json') {
    const json = readJsonBody(body);
    if (!json.ok) return { why: json.why };
    const problem = fromJson(json.value, channels);
    if (problem !== undefined) return { why: problem };
  } else {
    return { why: `Slack: cannot read channel arguments from a ${type === '' ? 'body without content type' : type} body` };
  }
  return { channels };
}

/** The Web API method and channel of a Slack request; refused for look-alikes and unreadable bodies. */
export function slackAction(req: PolicyRequest): ResolvedAction {
  const segs = pathSegments(req.path);
  if (segs[0]?.toLowerCase() !== 'api') return resolved();
  const lookAlike = lookAlikeProblem(req.path);
  if (lookAlike !== undefined) return refused('bad_request', `Slack: ${lookAlike}`);
  const method = segs[1];
  if (segs.length !== 2 || method === undefined || !METHOD.test(method)) {
    return refused('bad_request', 'Slack: the path must be /api/<method>, the method dotted words');
  }
  const hasBody = req.method !== 'GET' && req.method !== 'HEAD';
  if (hasBody && req.body === undefined) {
    const fromQuery: string[] = [];
    fromParams(req.query, fromQuery);
    return needsBodyFor('resource', method, fromQuery[0]);
  }
  const found = channelsOf(req, hasBody && req.body !== undefined ? req.body : Buffer.alloc(0));
  if ('why' in found) return refused('bad_body', found.why, method);
  const unique = [...new Set(found.channels.map((c) => c.trim()))];
  const [first, ...others] = unique;
  return resolved(
    method,
    first,
    others.map((resource) => ({ action: method, resource })),
  );
}
