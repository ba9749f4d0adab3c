/**
 * The agent's identity on an ext_proc stream (DESIGN §6, docs/ENVOY.md §2). ext_proc has no
 * context_extensions, so envoy/sidecar-ext-proc.yaml puts the agent on each route as
 * `metadata.filter_metadata.pai.agent` and lists two CEL expressions in the filter's
 * `request_attributes`. Envoy evaluates them on the first message of the stream and sends
 *
 *   ProcessingRequest.attributes["envoy.filters.http.ext_proc"] = Struct {
 *     "xds.route_metadata.filter_metadata['pai']['agent']": string_value "triage-bot"
 *     "xds.route_metadata": string_value "<the route's envoy.config.core.v3.Metadata in text format>"
 *   }
 *
 * The first key is a plain string and is preferred; the second is the fallback and is parsed as
 * text format (`filter_metadata { key: "pai" value { fields { key: "agent" value { string_value:
 * "…" } } } }`). Anything else (missing keys, a non-string value, an empty name, text that does
 * not parse, a repeated map key) is no identity, and the decision denies 403. Request headers are
 * never consulted.
 */
import type { Struct__Output } from '../generated/google/protobuf/Struct.js';
import { type TextFields, TextFormatError, mapEntry, parseTextFormat } from './ext-proc-textformat.js';

/** The key of ProcessingRequest.attributes under which Envoy's ext_proc filter sends its attributes. */
export const EXT_PROC_FILTER_NAME = 'envoy.filters.http.ext_proc';
/** The request_attributes entry naming the agent directly (preferred). */
export const AGENT_ATTRIBUTE = "xds.route_metadata.filter_metadata['pai']['agent']";
/** The request_attributes entry carrying the whole route metadata as text format (fallback). */
export const ROUTE_METADATA_ATTRIBUTE = 'xds.route_metadata';
/** The filter_metadata namespace and field of the agent name on a route. */
export const METADATA_NAMESPACE = 'pai';
export const METADATA_AGENT_FIELD = 'agent';

function stringField(struct: Struct__Output | undefined, key: string): string | undefined {
  const value = struct?.fields?.[key];
  return value?.kind === 'stringValue' || typeof value?.stringValue === 'string' ? value.stringValue : undefined;
}

/** `filter_metadata["pai"].fields["agent"].string_value` of a route Metadata in text format; undefined if absent or malformed. */
export function agentFromRouteMetadataText(text: string): string | undefined {
  try {
    const root: TextFields = parseTextFormat(text);
    const pai = mapEntry(root, 'filter_metadata', METADATA_NAMESPACE);
    if (pai?.kind !== 'message') return undefined;
    const agent = mapEntry(pai.fields, 'fields', METADATA_AGENT_FIELD);
    if (agent?.kind !== 'message') return undefined;
    const strings = agent.fields.filter(([name]) => name === 'string_value');
    const only = strings[0]?.[1];
    if (strings.length !== 1 || agent.fields.length !== 1 || only?.kind !== 'scalar' || !only.quoted) return undefined;
    return only.text;
  } catch (err) {
    if (err instanceof TextFormatError) return undefined;
    throw err;
  }
}

/**
 * The agent named by the sidecar's route, from ProcessingRequest.attributes; undefined when the
 * stream carries no usable identity (the caller denies 403).
 */
export function agentFromAttributes(attributes: Readonly<Record<string, Struct__Output>> | undefined): string | undefined {
  const struct = attributes?.[EXT_PROC_FILTER_NAME];
  if (struct === undefined) return undefined;
  const direct = stringField(struct, AGENT_ATTRIBUTE);
  if (direct !== undefined) return direct.length > 0 ? direct : undefined;
  const text = stringField(struct, ROUTE_METADATA_ATTRIBUTE);
  if (text === undefined) return undefined;
  const agent = agentFromRouteMetadataText(text);
  return agent !== undefined && agent.length > 0 ? agent : undefined;
}
