/**
 * `pai render install`: the Kubernetes manifests that run pai-secrets in a cluster (issue 15,
 * item 2). Pure: no I/O; the caller passes the pai CA's certificates (the webhook configuration's
 * caBundle). Two variants:
 *
 * - `vault`: separate admin and webhook Deployments of two replicas each, with a
 *   PodDisruptionBudget each; both log in to Vault with kubernetes auth (roles pai-admin and
 *   pai-webhook, the ConfigMap `pai-vault-setup` holds the `vault write` commands).
 * - `local`: one Deployment of one replica whose pod runs both the admin API and the webhook over
 *   a PersistentVolumeClaim holding the SQLite store. One replica because SQLite is one file with
 *   one writer on one node (a ReadWriteOnce volume cannot be shared by pods on several nodes, and
 *   two stores would diverge); `Recreate` so that the old pod lets go of the volume before the new
 *   one mounts it. No PodDisruptionBudget there: on a single replica it would either block every
 *   node drain or protect nothing.
 *
 * Neither process calls the Kubernetes API, so the ServiceAccounts get no Role at all and no
 * mounted API token (least privilege); Vault's kubernetes auth reviews the projected token with
 * its own reviewer credentials when Vault runs in the cluster (vault/setup.sh).
 */
import YAML from 'yaml';
import { buildVaultSetup } from './install-vault.js';
import {
  ADMIN_PORT,
  POD_SECURITY,
  WEBHOOK_PORT,
  type WorkloadSettings,
  adminContainer,
  podVolumes,
  webhookContainer,
} from './install-workloads.js';

type Json = Record<string, unknown>;

export interface InstallOptions {
  readonly namespace: string;
  readonly store: 'local' | 'vault';
  /** The pai image (admin, webhook, and the injector the webhook adds to agent pods). */
  readonly image: string;
  readonly envoyImage: string;
  /** Image with iptables for the agent pods' redirect init container. */
  readonly redirectImage: string;
  /** PEM certificates of the pai CA (`pai get ca`): the API server's trust for the webhook. */
  readonly caBundle: string;
  /** Vault's address and KV mount (store vault), and the PEM of Vault's CA when not a public one. */
  readonly vaultAddr: string;
  readonly vaultMount: string;
  readonly vaultCaPem: string | undefined;
  /** Namespaces whose agent pods' injectors may log in to Vault (store vault). */
  readonly agentNamespaces: readonly string[];
}

/** Secrets the install references but does not create (they hold private keys): name → what to put in. */
export const INSTALL_PREREQUISITES: Readonly<Record<string, string>> = {
  'pai-admin-tls':
    'the admin API certificate (type kubernetes.io/tls) for pai-admin.<namespace>.svc: kubectl -n <namespace> create secret tls pai-admin-tls --cert=... --key=...',
};

const PART_OF = { 'app.kubernetes.io/part-of': 'pai-secrets' };
const ADMIN_LABELS = { ...PART_OF, 'pai.io/admin': 'true' };
const WEBHOOK_LABELS = { ...PART_OF, 'pai.io/webhook': 'true' };
const AGENT_KEY = 'pai.io/agent';

function meta(name: string, ns: string | undefined, labels: Json = PART_OF): Json {
  return { name, ...(ns === undefined ? {} : { namespace: ns }), labels };
}

function serviceAccount(name: string, ns: string): Json {
  // No API token in these pods: neither process calls the Kubernetes API.
  return { apiVersion: 'v1', kind: 'ServiceAccount', metadata: meta(name, ns), automountServiceAccountToken: false };
}

function service(name: string, ns: string, selector: Json, port: number, targetPort: string): Json {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: meta(name, ns),
    spec: { selector, ports: [{ name: targetPort, port, targetPort, protocol: 'TCP' }] },
  };
}

function deployment(name: string, ns: string, replicas: number, labels: Json, pod: Json, recreate: boolean): Json {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: meta(name, ns),
    spec: {
      replicas,
      selector: { matchLabels: labels },
      strategy: recreate ? { type: 'Recreate' } : { type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } },
      template: { metadata: { labels }, spec: pod },
    },
  };
}

function podSpec(serviceAccountName: string, containers: Json[], volumes: Json[]): Json {
  return {
    serviceAccountName,
    automountServiceAccountToken: false,
    securityContext: POD_SECURITY,
    containers,
    volumes,
  };
}

function disruptionBudget(name: string, ns: string, labels: Json): Json {
  return {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: meta(name, ns),
    spec: { minAvailable: 1, selector: { matchLabels: labels } },
  };
}

/** The MutatingWebhookConfiguration: pods labelled pai.io/agent, outside pai's own namespace and kube-system. */
function webhookConfiguration(o: InstallOptions): Json {
  return {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'MutatingWebhookConfiguration',
    metadata: meta(`pai-sidecar-injector-${o.namespace}`, undefined),
    webhooks: [
      {
        name: 'sidecar.pai.io',
        admissionReviewVersions: ['v1'],
        sideEffects: 'None',
        // A pod naming an agent must never start without its sidecar (it would reach the APIs unproxied).
        failurePolicy: 'Fail',
        // The patch is complete in one pass and an injected pod is left alone: nothing to redo.
        reinvocationPolicy: 'Never',
        matchPolicy: 'Equivalent',
        timeoutSeconds: 10,
        clientConfig: {
          service: { name: 'pai-webhook', namespace: o.namespace, path: '/mutate', port: 443 },
          caBundle: Buffer.from(o.caBundle, 'utf8').toString('base64'),
        },
        rules: [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'], scope: 'Namespaced' }],
        // Only pods that name an agent by label reach the webhook: every other pod is unaffected by its outages.
        objectSelector: { matchExpressions: [{ key: AGENT_KEY, operator: 'Exists' }] },
        // pai's own pods and the control plane's are never held up by pai.
        namespaceSelector: {
          matchExpressions: [{ key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: [o.namespace, 'kube-system'] }],
        },
      },
    ],
  };
}

/** The webhook's PAI_WEBHOOK_* env (read by src/config.ts loadWebhookConfig). */
function webhookEnv(o: InstallOptions): { name: string; value: string }[] {
  const svc = `pai-webhook.${o.namespace}.svc`;
  const injector =
    o.store === 'vault'
      ? [
          'PAI_STORE=vault',
          `VAULT_ADDR=${o.vaultAddr}`,
          `PAI_VAULT_MOUNT=${o.vaultMount}`,
          'PAI_VAULT_AUTH=kubernetes',
          'PAI_VAULT_ROLE=pai-injector',
        ]
      : ['PAI_STORE=local'];
  return [
    { name: 'PAI_WEBHOOK_LISTEN', value: `0.0.0.0:${WEBHOOK_PORT}` },
    { name: 'PAI_WEBHOOK_DNS_NAMES', value: `${svc},${svc}.cluster.local` },
    { name: 'PAI_WEBHOOK_MODE', value: 'sidecar' },
    { name: 'PAI_WEBHOOK_PAI_IMAGE', value: o.image },
    { name: 'PAI_WEBHOOK_ENVOY_IMAGE', value: o.envoyImage },
    { name: 'PAI_WEBHOOK_REDIRECT_IMAGE', value: o.redirectImage },
    { name: 'PAI_WEBHOOK_TOKEN_AUDIENCE', value: 'vault' },
    { name: 'PAI_WEBHOOK_INJECTOR_ENV', value: injector.join(',') },
  ];
}

function settings(o: InstallOptions): WorkloadSettings {
  return {
    namespace: o.namespace,
    image: o.image,
    store: o.store,
    vault:
      o.store === 'vault'
        ? { addr: o.vaultAddr, mount: o.vaultMount, caConfigMap: o.vaultCaPem === undefined ? undefined : 'pai-vault-ca' }
        : undefined,
    webhookEnv: webhookEnv(o),
    adminTlsSecret: 'pai-admin-tls',
  };
}

function workloads(o: InstallOptions, s: WorkloadSettings): Json[] {
  const ns = o.namespace;
  if (o.store === 'local') {
    const labels = { ...ADMIN_LABELS, ...WEBHOOK_LABELS };
    const pod = podSpec('pai-server', [adminContainer(s), webhookContainer(s)], podVolumes(s, 'pai-data', true));
    return [
      serviceAccount('pai-server', ns),
      {
        apiVersion: 'v1',
        kind: 'PersistentVolumeClaim',
        metadata: meta('pai-data', ns),
        spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } },
      },
      deployment('pai-server', ns, 1, labels, pod, true),
    ];
  }
  const adminPod = podSpec('pai-admin', [adminContainer(s)], podVolumes(s, undefined, true));
  const webhookPod = podSpec('pai-webhook', [webhookContainer(s)], podVolumes(s, undefined, false));
  const docs: Json[] = [
    serviceAccount('pai-admin', ns),
    serviceAccount('pai-webhook', ns),
    deployment('pai-admin', ns, 2, ADMIN_LABELS, adminPod, false),
    deployment('pai-webhook', ns, 2, WEBHOOK_LABELS, webhookPod, false),
    disruptionBudget('pai-admin', ns, ADMIN_LABELS),
    disruptionBudget('pai-webhook', ns, WEBHOOK_LABELS),
    buildVaultSetup(ns, o.agentNamespaces),
  ];
  if (o.vaultCaPem !== undefined) {
    docs.push({ apiVersion: 'v1', kind: 'ConfigMap', metadata: meta('pai-vault-ca', ns), data: { 'ca.crt': o.vaultCaPem } });
  }
  return docs;
}

/** Every document of the install, in apply order (namespace first, webhook configuration last). */
export function renderInstall(o: InstallOptions): Json[] {
  const s = settings(o);
  return [
    { apiVersion: 'v1', kind: 'Namespace', metadata: meta(o.namespace, undefined) },
    ...workloads(o, s),
    service('pai-admin', o.namespace, ADMIN_LABELS, ADMIN_PORT, 'admin'),
    service('pai-webhook', o.namespace, WEBHOOK_LABELS, 443, 'webhook'),
    webhookConfiguration(o),
  ];
}

/** The documents as one multi-document YAML stream, headed by what must exist before applying it. */
export function installYaml(docs: readonly Json[]): string {
  const head = [
    '# pai render install: apply with kubectl apply -f -. Create first (not rendered: private keys):',
    ...Object.entries(INSTALL_PREREQUISITES).map(([name, what]) => `#   Secret ${name}: ${what}`),
  ];
  return `${head.join('\n')}\n${docs.map((d) => YAML.stringify(d, { lineWidth: 0, aliasDuplicateObjects: false })).join('---\n')}`;
}
