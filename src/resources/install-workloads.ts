/**
 * The pods of `pai render install`: the admin and webhook containers, their volumes, probes,
 * security contexts and resources, as plain Kubernetes JSON. Pure: no I/O.
 */

type Json = Record<string, unknown>;

/** Container ports: the admin API (TLS) and the webhook's HTTPS server. */
export const ADMIN_PORT = 7070;
export const WEBHOOK_PORT = 8443;
/** The uid of the admin and webhook processes (not 10101, which is Envoy's in agent pods). */
export const SERVER_UID = 65532;
export const DATA_DIR = '/var/lib/pai';
/** Where the projected service-account token for Vault's kubernetes auth is mounted. */
export const VAULT_TOKEN_DIR = '/var/run/secrets/pai';
export const ADMIN_TLS_DIR = '/etc/pai/admin-tls';
export const VAULT_CA_DIR = '/etc/pai/vault-ca';

/** Names of the volumes the pods mount; each is declared in the same pod. */
export const POD_VOLUMES = {
  data: 'pai-data',
  tmp: 'tmp',
  adminTls: 'admin-tls',
  vaultToken: 'vault-token',
  vaultCa: 'vault-ca',
} as const;

/** What the containers need to know of the install. */
export interface WorkloadSettings {
  readonly namespace: string;
  readonly image: string;
  readonly store: 'local' | 'vault';
  /** Vault settings (store vault): address, KV mount, and whether a CA ConfigMap is mounted. */
  readonly vault: { readonly addr: string; readonly mount: string; readonly caConfigMap: string | undefined } | undefined;
  /** The webhook's own settings (PAI_WEBHOOK_*), already as env values. */
  readonly webhookEnv: readonly { readonly name: string; readonly value: string }[];
  /** The Secret holding the admin API's TLS certificate and key (type kubernetes.io/tls). */
  readonly adminTlsSecret: string;
}

const SECURITY = {
  runAsNonRoot: true,
  runAsUser: SERVER_UID,
  runAsGroup: SERVER_UID,
  allowPrivilegeEscalation: false,
  readOnlyRootFilesystem: true,
  capabilities: { drop: ['ALL'] },
  seccompProfile: { type: 'RuntimeDefault' },
};

/** The pod-level security context: fsGroup makes the data volume writable by SERVER_UID. */
export const POD_SECURITY = {
  runAsNonRoot: true,
  runAsUser: SERVER_UID,
  runAsGroup: SERVER_UID,
  fsGroup: SERVER_UID,
  seccompProfile: { type: 'RuntimeDefault' },
};

function probes(port: number): Json {
  const get = (path: string): Json => ({ httpGet: { path, port, scheme: 'HTTPS' } });
  return {
    livenessProbe: { ...get('/healthz'), periodSeconds: 10, timeoutSeconds: 2, failureThreshold: 3 },
    readinessProbe: { ...get('/readyz'), periodSeconds: 5, timeoutSeconds: 2, failureThreshold: 2 },
  };
}

/** Store env of a process logging in to Vault as `role` (kubernetes auth, projected token). */
function storeEnv(s: WorkloadSettings, role: string): Json[] {
  const env: Json[] = [
    { name: 'PAI_STORE', value: s.store },
    { name: 'PAI_DATA_DIR', value: DATA_DIR },
  ];
  if (s.store !== 'vault' || s.vault === undefined) return env;
  env.push(
    { name: 'VAULT_ADDR', value: s.vault.addr },
    { name: 'PAI_VAULT_MOUNT', value: s.vault.mount },
    { name: 'PAI_VAULT_AUTH', value: 'kubernetes' },
    { name: 'PAI_VAULT_ROLE', value: role },
    { name: 'PAI_VAULT_K8S_TOKEN_PATH', value: `${VAULT_TOKEN_DIR}/token` },
  );
  if (s.vault.caConfigMap !== undefined) env.push({ name: 'VAULT_CACERT', value: `${VAULT_CA_DIR}/ca.crt` });
  return env;
}

function storeMounts(s: WorkloadSettings): Json[] {
  const mounts: Json[] = [
    { name: POD_VOLUMES.data, mountPath: DATA_DIR },
    { name: POD_VOLUMES.tmp, mountPath: '/tmp' },
  ];
  if (s.store === 'vault') mounts.push({ name: POD_VOLUMES.vaultToken, mountPath: VAULT_TOKEN_DIR, readOnly: true });
  if (s.vault?.caConfigMap !== undefined) mounts.push({ name: POD_VOLUMES.vaultCa, mountPath: VAULT_CA_DIR, readOnly: true });
  return mounts;
}

/** The admin API container: TLS on ADMIN_PORT, answering to the Service's DNS names. */
export function adminContainer(s: WorkloadSettings): Json {
  const svc = `pai-admin.${s.namespace}`;
  return {
    name: 'admin',
    image: s.image,
    args: ['serve', '--role', 'admin'],
    ports: [{ name: 'admin', containerPort: ADMIN_PORT, protocol: 'TCP' }],
    env: [
      ...storeEnv(s, 'pai-admin'),
      { name: 'PAI_ADMIN_LISTEN', value: `0.0.0.0:${ADMIN_PORT}` },
      { name: 'PAI_ADMIN_TLS_CERT', value: `${ADMIN_TLS_DIR}/tls.crt` },
      { name: 'PAI_ADMIN_TLS_KEY', value: `${ADMIN_TLS_DIR}/tls.key` },
      { name: 'PAI_ADMIN_ALLOWED_HOSTS', value: `pai-admin,${svc},${svc}.svc,${svc}.svc.cluster.local` },
    ],
    volumeMounts: [...storeMounts(s), { name: POD_VOLUMES.adminTls, mountPath: ADMIN_TLS_DIR, readOnly: true }],
    ...probes(ADMIN_PORT),
    resources: { requests: { cpu: '100m', memory: '128Mi' }, limits: { cpu: '1', memory: '256Mi' } },
    securityContext: SECURITY,
  };
}

/** The webhook container: HTTPS on WEBHOOK_PORT with a certificate of the pai CA. */
export function webhookContainer(s: WorkloadSettings): Json {
  return {
    name: 'webhook',
    image: s.image,
    args: ['serve', '--role', 'webhook'],
    ports: [{ name: 'webhook', containerPort: WEBHOOK_PORT, protocol: 'TCP' }],
    env: [...storeEnv(s, 'pai-webhook'), ...s.webhookEnv],
    volumeMounts: storeMounts(s),
    ...probes(WEBHOOK_PORT),
    resources: { requests: { cpu: '50m', memory: '96Mi' }, limits: { cpu: '500m', memory: '192Mi' } },
    securityContext: SECURITY,
  };
}

/**
 * The volumes of a pod running `containers` (names as in POD_VOLUMES): the data directory is the
 * PVC `pvc` when given (local store), else an emptyDir (Vault keeps the state; the audit log is
 * lost with the pod, so ship it off the node as any container log would be).
 */
export function podVolumes(s: WorkloadSettings, pvc: string | undefined, withAdmin: boolean): Json[] {
  const volumes: Json[] = [
    pvc === undefined
      ? { name: POD_VOLUMES.data, emptyDir: { sizeLimit: '1Gi' } }
      : { name: POD_VOLUMES.data, persistentVolumeClaim: { claimName: pvc } },
    { name: POD_VOLUMES.tmp, emptyDir: { medium: 'Memory', sizeLimit: '16Mi' } },
  ];
  if (withAdmin) volumes.push({ name: POD_VOLUMES.adminTls, secret: { secretName: s.adminTlsSecret } });
  if (s.store === 'vault') {
    volumes.push({
      name: POD_VOLUMES.vaultToken,
      projected: { sources: [{ serviceAccountToken: { path: 'token', audience: 'vault', expirationSeconds: 3600 } }] },
    });
  }
  if (s.vault?.caConfigMap !== undefined) {
    volumes.push({ name: POD_VOLUMES.vaultCa, configMap: { name: s.vault.caConfigMap } });
  }
  return volumes;
}
