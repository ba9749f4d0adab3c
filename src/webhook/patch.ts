/**
 * The JSONPatch (RFC 6902) that injects an agent pod. Only `add` operations on paths the pod does
 * not already hold, so the agent container's own env, mounts and security context are never
 * overwritten: a name or mount path it already has wins over ours. Pure: no I/O.
 */
import { PaiError } from '../errors.js';
import { type InjectionOptions, SIDECAR_UID, VOLUMES, agentMounts, injectedInitContainers, podVolumes } from './containers.js';
import type { AgentPieces } from './pieces.js';
import { INJECTED_KEY, type PodView, agentContainerIndex } from './pod.js';

export interface PatchOperation {
  readonly op: 'add';
  readonly path: string;
  readonly value: unknown;
}

/** RFC 6901 escaping of one path segment. */
function pointer(segment: string): string {
  return segment.replace(/~/g, '~0').replace(/\//g, '~1');
}

/** Appends `items` to the array at `path`, creating it when the pod has none. */
function appendAll(path: string, existing: readonly unknown[] | undefined, items: readonly unknown[]): PatchOperation[] {
  if (items.length === 0) return [];
  if (existing === undefined) return [{ op: 'add', path, value: items }];
  return items.map((value) => ({ op: 'add', path: `${path}/-`, value }));
}

/** The agent's uid when the pod states it; throws PaiError `invalid` for root or the sidecars' uid. */
function agentUid(pod: PodView, index: number): number | undefined {
  const uid = pod.containers[index]?.runAsUser ?? pod.podRunAsUser;
  if (uid === 0 || uid === SIDECAR_UID) {
    throw new PaiError(
      'invalid',
      `the agent container runs as uid ${uid}; it must run as another non-root uid than the sidecars' (${SIDECAR_UID}), ` +
        'or it could reach the injector socket',
    );
  }
  return uid;
}

function agentContainerOps(pod: PodView, index: number, pieces: AgentPieces): PatchOperation[] {
  const c = pod.containers[index];
  if (c === undefined) return [];
  const base = `/spec/containers/${index}`;
  const haveEnv = new Set((c.env ?? []).map((e) => e.name));
  const env = pieces.env.filter((e) => !haveEnv.has(e.name));
  const haveMounts = new Set((c.volumeMounts ?? []).map((m) => m.mountPath));
  const mounts = agentMounts().filter((m) => !haveMounts.has(String(m['mountPath'])));
  const ops = [...appendAll(`${base}/env`, c.env, env), ...appendAll(`${base}/volumeMounts`, c.volumeMounts, mounts)];
  if (!c.hasSecurityContext) ops.push({ op: 'add', path: `${base}/securityContext`, value: { allowPrivilegeEscalation: false } });
  return ops;
}

/**
 * The patch injecting `pieces` into `pod`. Throws PaiError `invalid` when the pod cannot be
 * injected safely (a volume or init container name of ours already taken, the agent as root or
 * as the sidecars' uid, an agent-container annotation naming no container).
 */
export function injectionPatch(
  pod: PodView,
  pieces: AgentPieces,
  options: InjectionOptions,
  agentLabel: string,
): PatchOperation[] {
  const index = agentContainerIndex(pod);
  const uid = agentUid(pod, index);
  const volumes = podVolumes(options);
  const init = injectedInitContainers(pieces, uid, options);
  const taken = new Set([
    ...(pod.volumeNames ?? []),
    ...(pod.initContainers ?? []).map((c) => c.name),
    ...pod.containers.map((c) => c.name),
  ]);
  for (const name of [...volumes, ...init].map((v) => String(v['name']))) {
    if (taken.has(name)) {
      throw new PaiError('invalid', `the pod already has a volume or container named "${name}", which the pai sidecar needs`);
    }
  }
  const ops: PatchOperation[] = [];
  if (pod.annotations === undefined)
    ops.push({ op: 'add', path: '/metadata/annotations', value: { [INJECTED_KEY]: agentLabel } });
  else ops.push({ op: 'add', path: `/metadata/annotations/${pointer(INJECTED_KEY)}`, value: agentLabel });
  // Without this every container, the agent's included, gets the pod's service-account token.
  ops.push({ op: 'add', path: '/spec/automountServiceAccountToken', value: false });
  ops.push(...appendAll('/spec/volumes', pod.volumeNames, volumes));
  // Ours go first, in order: the redirect and the sidecars must run before the pod's own init containers.
  if (pod.initContainers === undefined) ops.push({ op: 'add', path: '/spec/initContainers', value: init });
  else init.forEach((value, i) => ops.push({ op: 'add', path: `/spec/initContainers/${i}`, value }));
  ops.push(...agentContainerOps(pod, index, pieces));
  return ops;
}

export { VOLUMES };
