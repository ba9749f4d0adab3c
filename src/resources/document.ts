/**
 * A resource as a plain JSON document in Pai's form: what the store keeps, the admin API returns
 * and `get -o yaml|json` prints, and what parseResource reads back to an equal resource. The kept
 * fields of other Pai components go back to where the user wrote them (flat in `spec`). Pure.
 */
import type { Resource } from './types.js';

/** The document of `resource` (a fresh plain object; never shares structure with the resource). */
export function resourceDocument(resource: Resource): Record<string, unknown> {
  const { kept, ...spec } = resource.spec as { kept?: Readonly<Record<string, unknown>> } & Record<string, unknown>;
  const doc = {
    apiVersion: resource.apiVersion,
    kind: resource.kind,
    metadata: resource.metadata,
    spec: { ...spec, ...(kept ?? {}) },
  };
  return JSON.parse(JSON.stringify(doc)) as Record<string, unknown>;
}
