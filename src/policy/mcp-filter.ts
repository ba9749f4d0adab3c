/**
 * Filters MCP `tools/list` results so that a tool the policy denies is not even listed. Works on a
 * complete response body: `application/json` (one JSON-RPC message or a batch) and
 * `text/event-stream` (each event's `data:` lines hold one JSON-RPC message; the framing, other
 * fields and line endings are kept, a rewritten event's data becomes one `data:` line). Any
 * message whose `result.tools` is an array is filtered, whichever request it answers: on the
 * legacy SSE transport answers arrive on the GET stream, away from their request. A body that
 * cannot be read is reported, never passed through (the caller denies).
 */
import { bodyText, mediaTypeOf } from './body.js';
import type { CompiledPolicy } from './compile.js';
import { foldKey, parseStrictJson } from './json-strict.js';

export type FilterResult =
  | { readonly ok: true; readonly body: Buffer; readonly removed: readonly string[] }
  | { readonly ok: false; readonly why: string };

/** True when the policy lets the agent call tool `name` (policy.allow/deny and policy.mcp lists). */
export function toolAllowed(compiled: CompiledPolicy, name: string): boolean {
  if (compiled.deny.match(name) !== undefined || compiled.allow.match(name) === undefined) return false;
  if (compiled.deniedTools?.match(name) !== undefined) return false;
  return compiled.allowedTools === undefined || compiled.allowedTools.match(name) !== undefined;
}

type Native = null | boolean | number | string | Native[] | { [key: string]: Native };

function isRecord(v: Native | undefined): v is { [key: string]: Native } {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The key of `obj` equal to `name` after folding (strict parsing made it unique). */
function foldedKey(obj: { [key: string]: Native }, name: string): string | undefined {
  return Object.keys(obj).find((k) => foldKey(k) === name);
}

/** Filters one parsed message (or batch) in place; returns the names removed. */
function filterMessage(compiled: CompiledPolicy, message: Native, removed: string[]): void {
  if (Array.isArray(message)) {
    for (const m of message) filterMessage(compiled, m, removed);
    return;
  }
  if (!isRecord(message)) return;
  const resultKey = foldedKey(message, 'result');
  const result = resultKey === undefined ? undefined : message[resultKey];
  if (!isRecord(result)) return;
  const toolsKey = foldedKey(result, 'tools');
  const tools = toolsKey === undefined ? undefined : result[toolsKey];
  if (toolsKey === undefined || !Array.isArray(tools)) return;
  result[toolsKey] = tools.filter((tool) => {
    const nameKey = isRecord(tool) ? foldedKey(tool, 'name') : undefined;
    const name = nameKey === undefined || !isRecord(tool) ? undefined : tool[nameKey];
    if (typeof name === 'string' && toolAllowed(compiled, name)) return true;
    removed.push(typeof name === 'string' ? name : '(unnamed)');
    return false;
  });
}

/** The JSON text with denied tools removed (unchanged text when nothing was removed), or why it cannot be read. */
function filterJsonText(compiled: CompiledPolicy, text: string, removed: string[]): { text: string } | { why: string } {
  const strict = parseStrictJson(text);
  if (!strict.ok) return { why: `not strict JSON: ${strict.why}` };
  const value = JSON.parse(text) as Native;
  const before = removed.length;
  filterMessage(compiled, value, removed);
  return { text: removed.length === before ? text : JSON.stringify(value) };
}

const LINE = /([^\r\n]*)(\r\n|\r|\n|$)/g;
const isData = (line: string): boolean => line === 'data' || line.startsWith('data:');

/** One event's lines ([text, terminator]) with its JSON data filtered; the reason when the data is JSON but not strict. */
function filterEvent(compiled: CompiledPolicy, event: readonly [string, string][], removed: string[]): string | { why: string } {
  const plain = event.map(([l, t]) => l + t).join('');
  // SSE: "data:" then at most one space is dropped; several data lines join with "\n".
  const data = event.filter(([l]) => isData(l)).map(([l]) => l.slice(5).replace(/^ /, ''));
  const joined = data.join('\n');
  const start = joined.trimStart()[0];
  if (start !== '{' && start !== '[') return plain; // not a JSON-RPC message (e.g. the legacy "endpoint" event)
  const filtered = filterJsonText(compiled, joined, removed);
  if ('why' in filtered) return filtered;
  if (filtered.text === joined) return plain;
  const first = event.findIndex(([l]) => isData(l));
  return event
    .filter(([l], i) => i === first || !isData(l))
    .map(([l, t]) => (isData(l) ? `data: ${filtered.text}${t}` : l + t))
    .join('');
}

function filterEventStream(compiled: CompiledPolicy, text: string, removed: string[]): { text: string } | { why: string } {
  let out = '';
  let event: [string, string][] = [];
  for (const [, line = '', eol = ''] of text.matchAll(LINE)) {
    if (line === '' && eol === '') break;
    if (line !== '') {
      event.push([line, eol]);
      continue;
    }
    const done = filterEvent(compiled, event, removed);
    if (typeof done !== 'string') return done;
    out += done + eol;
    event = [];
  }
  const done = filterEvent(compiled, event, removed);
  return typeof done === 'string' ? { text: out + done } : done;
}

/**
 * `body` with the tools that `compiled` denies removed from every `tools/list` result, for
 * `application/json` and `text/event-stream` bodies; ok false with the reason when the body is
 * not UTF-8, holds a message that is not strict JSON, or has another non-empty content type.
 */
export function filterToolsList(compiled: CompiledPolicy, body: Buffer, contentType: string): FilterResult {
  if (body.length === 0) return { ok: true, body, removed: [] };
  const text = bodyText(body);
  if (text === undefined) return { ok: false, why: 'response body is not valid UTF-8' };
  const type = mediaTypeOf(contentType);
  const removed: string[] = [];
  let filtered: { text: string } | { why: string };
  if (type === 'application/json') filtered = filterJsonText(compiled, text, removed);
  else if (type === 'text/event-stream') filtered = filterEventStream(compiled, text, removed);
  else return { ok: false, why: `cannot filter a ${type === '' ? 'response without content type' : type} response` };
  if ('why' in filtered) return { ok: false, why: filtered.why };
  return { ok: true, body: removed.length === 0 ? body : Buffer.from(filtered.text, 'utf8'), removed };
}
