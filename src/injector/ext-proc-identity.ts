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
import type { AgentId } from './agents.js';
import { type NamedAgent, agentIdentity } from './identity.js';
import { type TextFields, TextFormatError, mapEntry, parseTextFormat } from './ext-proc-textformat.js';

/** The key of ProcessingRequest.attributes under which Envoy's ext_proc filter sends its attributes. */
export const EXT_PROC_FILTER_NAME = 'envoy.filters.http.ext_proc';
/** The request_attributes entry naming the agent directly (preferred). */
export const AGENT_ATTRIBUTE = "xds.route_metadata.filter_metadata['pai']['agent']";
/** The request_attributes entry naming the agent's namespace (absent: default). */
export const NAMESPACE_ATTRIBUTE = "xds.route_metadata.filter_metadata['pai']['namespace']";
/** The request_attributes entry carrying the whole route metadata as text format (fallback). */
export const ROUTE_METADATA_ATTRIBUTE = 'xds.route_metadata';
/** The filter_metadata namespace and field of the agent name on a route. */
export const METADATA_NAMESPACE = 'pai';
export const METADATA_AGENT_FIELD = 'agent';
export const METADATA_NAMESPACE_FIELD = 'namespace';

function stringField(struct: Struct__Output | undefined, key: string): string | undefined {
  const value = struct?.fields?.[key];
  return value?.kind === 'stringValue' || typeof value?.stringValue === 'string' ? value.stringValue : undefined;
}

/**
 * `filter_metadata["pai"].fields[field].string_value` of a route Metadata in text format; undefined
 * if absent, `null` if malformed (a malformed entry must not read as "absent, so default").
 */
export function fieldFromRouteMetadataText(text: string, field: string): string | undefined | null {
  try {
    const root: TextFields = parseTextFormat(text);
    const pai = mapEntry(root, 'filter_metadata', METADATA_NAMESPACE);
    if (pai?.kind !== 'message') return undefined;
    const entry = mapEntry(pai.fields, 'fields', field);
    if (entry === undefined) return undefined;
    if (entry.kind !== 'message') return null;
    const strings = entry.fields.filter(([name]) => name === 'string_value');
    const only = strings[0]?.[1];
    if (strings.length !== 1 || entry.fields.length !== 1 || only?.kind !== 'scalar' || !only.quoted) return null;
    return only.text;
  } catch (err) {
    if (err instanceof TextFormatError) return null;
    throw err;
  }
}

/** `filter_metadata["pai"].fields["agent"].string_value` of a route Metadata in text format; undefined if absent or malformed. */
export function agentFromRouteMetadataText(text: string): string | undefined {
  return fieldFromRouteMetadataText(text, METADATA_AGENT_FIELD) ?? undefined;
}

/**
 * The agent named by the sidecar's route (name and namespace), from ProcessingRequest.attributes;
 * undefined when the stream carries no usable identity (the caller denies 403).
 */
export function agentFromAttributes(attributes: Readonly<Record<string, Struct__Output>> | undefined): AgentId | undefined {
  const struct = attributes?.[EXT_PROC_FILTER_NAME];
  if (struct === undefined) return undefined;
  const direct = stringField(struct, AGENT_ATTRIBUTE);
  if (direct !== undefined) return agentIdentity(direct, stringField(struct, NAMESPACE_ATTRIBUTE));
  const text = stringField(struct, ROUTE_METADATA_ATTRIBUTE);
  if (text === undefined) return undefined;
  const agent = fieldFromRouteMetadataText(text, METADATA_AGENT_FIELD);
  const namespace = fieldFromRouteMetadataText(text, METADATA_NAMESPACE_FIELD);
  if (agent === null || agent === undefined || namespace === null) return undefined;
  return agentIdentity(agent, namespace);
}

/**
 * The agent and namespace the route names, as raw strings, for shared mode's comparison with the
 * client certificate (peer-identity.ts): undefined when absent, null when present but unreadable.
 */
export function namedInAttributes(attributes: Readonly<Record<string, Struct__Output>> | undefined): NamedAgent {
  const struct = attributes?.[EXT_PROC_FILTER_NAME];
  const direct = stringField(struct, AGENT_ATTRIBUTE);
  if (direct !== undefined) return { agent: direct, namespace: stringField(struct, NAMESPACE_ATTRIBUTE) };
  const text = stringField(struct, ROUTE_METADATA_ATTRIBUTE);
  if (text === undefined) return { agent: undefined, namespace: undefined };
  return {
    agent: fieldFromRouteMetadataText(text, METADATA_AGENT_FIELD),
    namespace: fieldFromRouteMetadataText(text, METADATA_NAMESPACE_FIELD),
  };
}
