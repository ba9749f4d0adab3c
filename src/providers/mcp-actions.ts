/**
 * MCP action resolver: the tool name of a JSON-RPC `tools/call` request body (the action checked
 * against policy.mcp.allowedTools / deniedTools and policy.allow / deny), and a `filterResponse`
 * marker on `tools/list` so the injector filters the answer. Other messages (initialize,
 * notifications, responses, resources/…, GET for the event stream) resolve to no action.
 * Refused: a body that is not strict JSON (duplicate keys, also case-folded), a `tools/call` without
 * a clean tool name, and a JSON-RPC batch (array) holding a `tools/call` or `tools/list`: MCP
 * 2025-06-18 dropped batches, and a batch would need one verdict and one filtered answer per
 * element, which is where a smuggled call would hide.
 */
import { readJsonBody } from '../policy/body.js';
import { isJsonObject, jsonField, jsonString } from '../policy/json-strict.js';
import type { JsonValue } from '../policy/json-strict.js';
import { needsBodyFor, refused, resolved } from '../policy/request.js';
import type { PolicyRequest, ResolvedAction } from '../policy/request.js';

// Printable, no leading/trailing space: a name the server could read two ways is refused.
const TOOL_NAME = /^[^\s\x00-\x1f\x7f](?:[^\x00-\x1f\x7f]*[^\s\x00-\x1f\x7f])?$/; // eslint-disable-line no-control-regex

/** The JSON-RPC method of a message, trimmed and lower-cased (servers that are lenient must not be outwitted). */
function rpcMethod(message: JsonValue): string | undefined {
  const method = jsonString(message, 'method');
  return method === undefined ? undefined : method.trim().toLowerCase();
}

function messageAction(message: JsonValue): ResolvedAction {
  if (!isJsonObject(message)) return refused('bad_body', 'MCP: JSON-RPC message is not an object');
  const method = rpcMethod(message);
  if (method === 'tools/list') return { kind: 'resolved', filterResponse: 'tools/list' };
  if (method !== 'tools/call') {
    // An object whose method is not a string may still be read as tools/call by a lax server.
    const raw = jsonField(message, 'method');
    return raw === undefined || typeof raw === 'string' ? resolved() : refused('bad_body', 'MCP: "method" is not a string');
  }
  const name = jsonField(jsonField(message, 'params'), 'name');
  if (typeof name !== 'string' || !TOOL_NAME.test(name)) {
    return refused('bad_body', 'MCP: tools/call without a clean string params.name');
  }
  return resolved(name);
}

/** The tool of an MCP `tools/call`, the filter marker of `tools/list`; refused for unreadable bodies and batches that call tools. */
export function mcpAction(req: PolicyRequest): ResolvedAction {
  if (req.method !== 'POST') return resolved();
  if (req.body === undefined) return needsBodyFor('action');
  const json = readJsonBody(req.body);
  if (!json.ok) return refused('bad_body', `MCP: ${json.why}`);
  if (!Array.isArray(json.value)) return messageAction(json.value);
  const batch: readonly JsonValue[] = json.value;
  if (batch.length === 0) return refused('bad_body', 'MCP: empty JSON-RPC batch');
  for (const message of batch) {
    const verdict = messageAction(message);
    if (verdict.kind !== 'resolved' || verdict.action !== undefined || verdict.filterResponse !== undefined) {
      return refused('bad_body', 'MCP: a JSON-RPC batch may not hold tools/call or tools/list');
    }
  }
  return resolved();
}
