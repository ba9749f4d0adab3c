/**
 * The containers and volumes the webhook adds to an agent pod, as plain Kubernetes JSON (docs/ENVOY.md
 * §1, docs/KUBERNETES.md). Envoy and the injector are native sidecars (init containers with
 * `restartPolicy: Always`, Kubernetes ≥ 1.29), so a Job's pod still completes when its agent exits.
 * Pure: no I/O.
 */
import type { AgentPieces, PodEnvVar } from './pieces.js';
import { CA_BUNDLE_PATH } from '../resources/agent-trust.js';
export { CA_BUNDLE_PATH };

/** The uid of Envoy and the injector; the agent must run as another one (never root). */
export const SIDECAR_UID = 10101;
/** Where Envoy listens for the redirected HTTPS and HTTP traffic of the agent (PAI.md). */
export const ENVOY_TLS_PORT = 8443;
export const ENVOY_HTTP_PORT = 8081;
/** Volume names the webhook adds; a pod that already has one of them is refused, never overwritten. */
export const VOLUMES = {
  run: 'pai-run',
  envoy: 'pai-envoy',
  files: 'pai-files',
  injectorData: 'pai-injector-data',
  token: 'pai-injector-token',
} as const;
export const FILES_DIR = '/var/run/pai-files';
export const HOSTS_PATH = '/etc/hosts';

/** Settings of the webhook that do not depend on the pod (images, injector env, mode). */
export interface InjectionOptions {
  /** `sidecar`: Envoy and an injector per pod; `shared`: Envoy only, reaching a pai-injector Deployment over mTLS. */
  readonly mode: 'sidecar' | 'shared';
  readonly paiImage: string;
  readonly envoyImage: string;
  /** Image with iptables for the redirect init container. */
  readonly redirectImage: string;
  /** Env of the injector sidecar (store, Vault address and role, …); never a secret value. */
  readonly injectorEnv: readonly PodEnvVar[];
  /** Audience of the injector's projected service-account token (Vault's kubernetes auth role). */
  readonly tokenAudience: string;
}

type Json = Record<string, unknown>;

const SIDECAR_SECURITY = {
  runAsUser: SIDECAR_UID,
  runAsGroup: SIDECAR_UID,
  runAsNonRoot: true,
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  capabilities: { drop: ['ALL'] },
  seccompProfile: { type: 'RuntimeDefault' },
};

/** The volumes of an injected pod (the token and injector data only in sidecar mode). */
export function podVolumes(options: InjectionOptions): Json[] {
  const volumes: Json[] = [
    { name: VOLUMES.envoy, emptyDir: { medium: 'Memory' } },
    { name: VOLUMES.files, emptyDir: { medium: 'Memory' } },
  ];
  if (options.mode === 'shared') return volumes;
  return [
    { name: VOLUMES.run, emptyDir: { medium: 'Memory' } },
    ...volumes,
    { name: VOLUMES.injectorData, emptyDir: { medium: 'Memory' } },
    {
      name: VOLUMES.token,
      projected: {
        sources: [{ serviceAccountToken: { path: 'token', audience: options.tokenAudience, expirationSeconds: 3600 } }],
      },
    },
  ];
}

/**
 * Writes the agent's pieces into the `pai-files` volume before anything else starts. They travel as
 * env values of this container (no secret among them), so the webhook needs no write access to
 * ConfigMaps and has no side effects (sideEffects: None).
 */
function filesContainer(pieces: AgentPieces, options: InjectionOptions): Json {
  const script =
    'set -eu; umask 022; ' +
    `printf '%s' "$PAI_ENVOY_YAML" > ${FILES_DIR}/envoy.yaml; ` +
    `printf '%s' "$PAI_HOSTS" > ${FILES_DIR}/hosts; ` +
    `printf '%s' "$PAI_CA_BUNDLE" > ${FILES_DIR}/ca-bundle.pem`;
  return {
    name: 'pai-files',
    image: options.paiImage,
    command: ['/bin/sh', '-c', script],
    env: [
      { name: 'PAI_ENVOY_YAML', value: pieces.envoyBootstrap },
      { name: 'PAI_HOSTS', value: pieces.hosts },
      { name: 'PAI_CA_BUNDLE', value: pieces.caBundle },
    ],
    volumeMounts: [{ name: VOLUMES.files, mountPath: FILES_DIR }],
    securityContext: SIDECAR_SECURITY,
  };
}

/**
 * Redirects the agent's outbound 443 (and 80) to Envoy. With the agent's uid known the rule names
 * it; otherwise every uid but Envoy's is redirected (Envoy's own upstream connections must not loop).
 */
function redirectContainer(agentUid: number | undefined, options: InjectionOptions): Json {
  const owner = agentUid === undefined ? `! --uid-owner ${SIDECAR_UID}` : `--uid-owner ${agentUid}`;
  const rule = (from: number, to: number): string =>
    `iptables -t nat -A OUTPUT -p tcp -d 0.0.0.0/0 --dport ${from} -m owner ${owner} -j REDIRECT --to-ports ${to}`;
  return {
    name: 'pai-redirect',
    image: options.redirectImage,
    command: ['/bin/sh', '-c', `set -eu; ${rule(443, ENVOY_TLS_PORT)}; ${rule(80, ENVOY_HTTP_PORT)}`],
    securityContext: {
      runAsUser: 0,
      runAsNonRoot: false,
      allowPrivilegeEscalation: false,
      capabilities: { add: ['NET_ADMIN', 'NET_RAW'], drop: ['ALL'] },
    },
  };
}

function envoyContainer(options: InjectionOptions): Json {
  const mounts: Json[] = [
    { name: VOLUMES.envoy, mountPath: '/var/run/pai-envoy' },
    { name: VOLUMES.files, mountPath: '/etc/envoy/envoy.yaml', subPath: 'envoy.yaml', readOnly: true },
  ];
  if (options.mode === 'sidecar') mounts.unshift({ name: VOLUMES.run, mountPath: '/var/run/pai' });
  return {
    name: 'envoy',
    image: options.envoyImage,
    args: ['-c', '/etc/envoy/envoy.yaml'],
    restartPolicy: 'Always',
    volumeMounts: mounts,
    securityContext: SIDECAR_SECURITY,
  };
}

function injectorContainer(options: InjectionOptions): Json {
  return {
    name: 'pai-injector',
    image: options.paiImage,
    args: ['serve', '--role', 'injector'],
    restartPolicy: 'Always',
    env: [
      { name: 'PAI_INJECTOR_LISTEN', value: 'unix:/var/run/pai/injector.sock' },
      { name: 'PAI_DATA_DIR', value: '/var/lib/pai' },
      { name: 'PAI_VAULT_K8S_TOKEN_PATH', value: '/var/run/secrets/pai/token' },
      // bin/pai.js's bounded heap for an injector serving one agent (docs/PERFORMANCE.md).
      { name: 'PAI_NODE_PROFILE', value: 'pod' },
      ...options.injectorEnv.filter((e) => !['PAI_INJECTOR_LISTEN', 'PAI_DATA_DIR', 'PAI_NODE_PROFILE'].includes(e.name)),
    ],
    volumeMounts: [
      { name: VOLUMES.run, mountPath: '/var/run/pai' },
      { name: VOLUMES.injectorData, mountPath: '/var/lib/pai' },
      { name: VOLUMES.token, mountPath: '/var/run/secrets/pai', readOnly: true },
    ],
    securityContext: SIDECAR_SECURITY,
  };
}

/**
 * The init containers to put before the pod's own, in start order: files, redirect, injector
 * (sidecar mode), Envoy. The sidecars start before the pod's own init containers, so those can
 * already reach their APIs through Envoy.
 */
export function injectedInitContainers(pieces: AgentPieces, agentUid: number | undefined, options: InjectionOptions): Json[] {
  const sidecars = options.mode === 'sidecar' ? [injectorContainer(options)] : [];
  return [filesContainer(pieces, options), redirectContainer(agentUid, options), ...sidecars, envoyContainer(options)];
}

/** The agent container's mounts of its hosts file and CA bundle. */
export function agentMounts(): Json[] {
  return [
    { name: VOLUMES.files, mountPath: HOSTS_PATH, subPath: 'hosts', readOnly: true },
    { name: VOLUMES.files, mountPath: CA_BUNDLE_PATH, subPath: 'ca-bundle.pem', readOnly: true },
  ];
}
