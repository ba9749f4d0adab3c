/**
 * The few parts of a Pod the webhook reads, parsed once from the AdmissionRequest's JSON. Only
 * what the patch needs is typed; everything else in the pod is left as it is (JSONPatch touches
 * named paths only). Pure: no I/O.
 */
import { PaiError } from '../errors.js';

/** The label or annotation naming a pod's agent. */
export const AGENT_KEY = 'pai.io/agent';
/** Set on an injected pod: the webhook leaves such a pod alone (idempotence, reinvocation). */
export const INJECTED_KEY = 'pai.io/injected';
/** Optional annotation naming the agent container; else the container `agent`, else the first one. */
export const AGENT_CONTAINER_KEY = 'pai.io/agent-container';

export interface PodContainer {
  readonly name: string;
  readonly env: readonly { readonly name: string }[] | undefined;
  readonly volumeMounts: readonly { readonly mountPath: string }[] | undefined;
  readonly hasSecurityContext: boolean;
  readonly runAsUser: number | undefined;
}

export interface PodView {
  readonly labels: Readonly<Record<string, string>>;
  readonly annotations: Readonly<Record<string, string>> | undefined;
  readonly containers: readonly PodContainer[];
  readonly initContainers: readonly PodContainer[] | undefined;
  readonly volumeNames: readonly string[] | undefined;
  readonly podRunAsUser: number | undefined;
}

function record(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

function stringMap(value: unknown): Record<string, string> | undefined {
  const r = record(value);
  if (r === undefined) return undefined;
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(r)) if (typeof v === 'string') out[k] = v;
  return out;
}

function named<T extends string>(value: unknown, field: T): { [K in T]: string }[] | undefined {
  if (!Array.isArray(value)) return undefined;
  return value.flatMap((item) => {
    const v = record(item)?.[field];
    return typeof v === 'string' ? [{ [field]: v } as { [K in T]: string }] : [];
  });
}

function uid(securityContext: unknown): number | undefined {
  const v = record(securityContext)?.['runAsUser'];
  return typeof v === 'number' ? v : undefined;
}

function container(value: unknown, where: string): PodContainer {
  const c = record(value);
  const name = c?.['name'];
  if (c === undefined || typeof name !== 'string') throw new PaiError('bad_request', `${where} has no name`);
  return {
    name,
    env: named(c['env'], 'name'),
    volumeMounts: named(c['volumeMounts'], 'mountPath'),
    hasSecurityContext: record(c['securityContext']) !== undefined,
    runAsUser: uid(c['securityContext']),
  };
}

/** Parses the pod of an AdmissionRequest. Throws PaiError `bad_request` naming the missing field. */
export function parsePod(object: unknown): PodView {
  const pod = record(object);
  const spec = record(pod?.['spec']);
  if (spec === undefined) throw new PaiError('bad_request', 'the admission request has no pod spec (request.object.spec)');
  const meta = record(pod?.['metadata']);
  const rawContainers = spec['containers'];
  if (!Array.isArray(rawContainers) || rawContainers.length === 0) {
    throw new PaiError('bad_request', 'the pod has no containers (spec.containers)');
  }
  const rawInit = spec['initContainers'];
  return {
    labels: stringMap(meta?.['labels']) ?? {},
    annotations: stringMap(meta?.['annotations']),
    containers: rawContainers.map((c, i) => container(c, `spec.containers[${i}]`)),
    initContainers: Array.isArray(rawInit) ? rawInit.map((c, i) => container(c, `spec.initContainers[${i}]`)) : undefined,
    volumeNames: named(spec['volumes'], 'name')?.map((v) => v.name),
    podRunAsUser: uid(spec['securityContext']),
  };
}

/** The agent a pod names (annotation first, then label), or undefined when it names none. */
export function podAgentName(pod: PodView): string | undefined {
  const name = pod.annotations?.[AGENT_KEY] ?? pod.labels[AGENT_KEY];
  return name === undefined || name === '' ? undefined : name;
}

/** True when the webhook already injected this pod. */
export function alreadyInjected(pod: PodView): boolean {
  return pod.annotations?.[INJECTED_KEY] !== undefined;
}

/** The index of the agent container. Throws PaiError `invalid` when the annotation names no container. */
export function agentContainerIndex(pod: PodView): number {
  const wanted = pod.annotations?.[AGENT_CONTAINER_KEY];
  if (wanted !== undefined) {
    const i = pod.containers.findIndex((c) => c.name === wanted);
    if (i < 0)
      throw new PaiError('invalid', `annotation ${AGENT_CONTAINER_KEY} names container "${wanted}", which the pod lacks`);
    return i;
  }
  const byName = pod.containers.findIndex((c) => c.name === 'agent');
  return byName < 0 ? 0 : byName;
}
