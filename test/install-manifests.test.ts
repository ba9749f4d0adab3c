/**
 * `pai render install`: every document validates against Kubernetes' schemas (kubernetes-models),
 * and read back from the YAML the install holds together: each Service selects a pod template and
 * targets one of its ports, each referenced Secret/ConfigMap/ServiceAccount/PVC/volume exists, the
 * probes hit declared ports, and the webhook's caBundle is the given CA.
 */
import fs from 'node:fs';
import path from 'node:path';
import test from 'ava';
import YAML from 'yaml';
import { MutatingWebhookConfiguration } from 'kubernetes-models/admissionregistration.k8s.io/v1';
import { Deployment } from 'kubernetes-models/apps/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ConfigMap, Namespace, PersistentVolumeClaim, Service, ServiceAccount } from 'kubernetes-models/v1';
import { renderInstallCommand } from '../src/cli/render-install.js';
import type { CliIo } from '../src/cli/io.js';
import { INSTALL_PREREQUISITES, type InstallOptions, installYaml, renderInstall } from '../src/resources/install-manifests.js';
import { tempDir } from './helpers/process.js';

type Doc = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const CA = '-----BEGIN CERTIFICATE-----\nMIIBpaiCA\n-----END CERTIFICATE-----\n';
const BASE: InstallOptions = {
  namespace: 'pai-system',
  store: 'vault',
  image: 'ghcr.io/pai/pai-secrets:0.1.0',
  envoyImage: 'envoyproxy/envoy:v1.36.2',
  redirectImage: 'ghcr.io/pai/pai-redirect:0.1.0',
  caBundle: CA,
  vaultAddr: 'https://vault.vault.svc:8200',
  vaultMount: 'pai',
  vaultCaPem: '-----BEGIN CERTIFICATE-----\nMIIBvault\n-----END CERTIFICATE-----\n',
  agentNamespaces: ['team-a', 'team-b'],
};
const VARIANTS: readonly [string, InstallOptions][] = [
  ['vault', BASE],
  ['vault without a Vault CA', { ...BASE, vaultCaPem: undefined }],
  ['local', { ...BASE, store: 'local', namespace: 'pai' }],
];

const MODELS: Record<string, new (doc: Doc) => { validate(): void }> = {
  'v1/Namespace': Namespace,
  'v1/ServiceAccount': ServiceAccount,
  'v1/Service': Service,
  'v1/ConfigMap': ConfigMap,
  'v1/PersistentVolumeClaim': PersistentVolumeClaim,
  'apps/v1/Deployment': Deployment,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'admissionregistration.k8s.io/v1/MutatingWebhookConfiguration': MutatingWebhookConfiguration,
};

/** The install as kubectl would read it: the YAML stream parsed back. */
function readBack(options: InstallOptions): Doc[] {
  return YAML.parseAllDocuments(installYaml(renderInstall(options))).map((d) => d.toJSON() as Doc);
}

const named = (docs: Doc[], kind: string): Set<string> =>
  new Set(docs.filter((d) => d.kind === kind).map((d) => d.metadata.name as string));

const selects = (selector: Record<string, string>, labels: Record<string, string>): boolean =>
  Object.entries(selector).every(([k, v]) => labels[k] === v);

function pods(docs: Doc[]): Doc[] {
  return docs.filter((d) => d.kind === 'Deployment').map((d) => d.spec.template);
}

test('refused: a bad namespace, store, image or CA file; nothing printed', async (t) => {
  const dir = tempDir();
  const noCert = path.join(dir, 'key.pem');
  fs.writeFileSync(noCert, '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n');
  const flags = {
    namespace: 'pai-system',
    store: 'vault',
    image: 'i:1',
    envoyImage: 'e:1',
    redirectImage: 'r:1',
    caBundle: noCert,
    vaultAddr: 'https://v:8200',
    vaultMount: 'pai',
    vaultCa: undefined,
    agentNamespaces: '',
  };
  const cases: [Partial<typeof flags>, RegExp][] = [
    [{ namespace: 'Pai_System' }, /--namespace is not a DNS label/],
    [{ store: 'etcd' }, /--store must be local or vault/],
    [{ image: 'a b' }, /--image is not an image reference/],
    [{}, /holds no PEM certificate/],
    [{ caBundle: path.join(dir, 'missing.pem') }, /cannot read/],
    [{ agentNamespaces: 'team-a,Bad' }, /--agent-namespaces/],
  ];
  for (const [change, message] of cases) {
    let out = '';
    const io = { stdout: (s: string) => (out += s), stderr: () => undefined } as unknown as CliIo;
    const err = await t.throwsAsync(
      renderInstallCommand(
        () => {
          throw new Error('no server for this test');
        },
        { ...flags, ...change },
        io,
      ),
    );
    t.regex(err.message, message);
    t.is(out, '');
  }
});

test('--ca-bundle: the certificates of the file, never a key beside them', async (t) => {
  const dir = tempDir();
  const file = path.join(dir, 'ca.pem');
  const keyCanary = 'CANARYKEYBYTESDONOTLEAK';
  fs.writeFileSync(file, `-----BEGIN PRIVATE KEY-----\n${keyCanary}\n-----END PRIVATE KEY-----\n${CA}`);
  let out = '';
  let err = '';
  const io = { stdout: (s: string) => (out += s), stderr: (s: string) => (err += s) } as unknown as CliIo;
  await renderInstallCommand(
    () => {
      throw new Error('the admin API must not be asked when --ca-bundle is given');
    },
    {
      namespace: 'pai-system',
      store: 'local',
      image: 'i:1',
      envoyImage: 'e:1',
      redirectImage: 'r:1',
      caBundle: file,
      vaultAddr: 'https://v:8200',
      vaultMount: 'pai',
      vaultCa: undefined,
      agentNamespaces: '',
    },
    io,
  );
  t.false(out.includes(keyCanary));
  t.false(Buffer.from(out).toString('base64').includes(Buffer.from(keyCanary).toString('base64')));
  const hook = YAML.parseAllDocuments(out)
    .map((d) => d.toJSON() as Doc)
    .find((d) => d.kind === 'MutatingWebhookConfiguration');
  t.is(Buffer.from(hook?.webhooks[0].clientConfig.caBundle as string, 'base64').toString('utf8'), CA);
  t.regex(err, /create Secret pai-admin-tls first/);
});

for (const [name, options] of VARIANTS) {
  test(`${name}: every document validates against the Kubernetes schemas`, (t) => {
    const docs = readBack(options);
    for (const doc of docs) {
      const Model = MODELS[`${doc.apiVersion}/${doc.kind}`];
      if (Model === undefined) return t.fail(`no model for ${doc.apiVersion} ${doc.kind}`);
      t.notThrows(() => new Model(doc).validate(), `${doc.kind}/${doc.metadata.name}`);
    }
  });

  test(`${name}: every Service selects a pod template and targets one of its ports`, (t) => {
    const docs = readBack(options);
    const services = docs.filter((d) => d.kind === 'Service');
    t.is(services.length, 2);
    for (const svc of services) {
      const chosen = pods(docs).filter((p) => selects(svc.spec.selector, p.metadata.labels));
      t.true(chosen.length > 0, `${svc.metadata.name} selects no pod`);
      for (const port of svc.spec.ports) {
        for (const pod of chosen) {
          const ports = pod.spec.containers.flatMap((c: Doc) => c.ports ?? []);
          t.true(
            ports.some((p: Doc) => p.name === port.targetPort),
            `${svc.metadata.name} targets ${port.targetPort}`,
          );
        }
      }
    }
    for (const d of docs.filter((x) => x.kind === 'Deployment' || x.kind === 'PodDisruptionBudget')) {
      const matchLabels = d.spec.selector.matchLabels as Record<string, string>;
      t.true(
        pods(docs).some((p) => selects(matchLabels, p.metadata.labels)),
        `${d.kind}/${d.metadata.name}`,
      );
    }
  });

  test(`${name}: every Secret, ConfigMap, ServiceAccount, PVC and volume referenced exists`, (t) => {
    const docs = readBack(options);
    const ns = options.namespace;
    t.true(
      docs.filter((d) => d.metadata.namespace !== undefined).every((d) => d.metadata.namespace === ns),
      'all in the install namespace',
    );
    for (const pod of pods(docs)) {
      const spec = pod.spec;
      t.true(named(docs, 'ServiceAccount').has(spec.serviceAccountName));
      t.false(spec.automountServiceAccountToken);
      const volumes = new Set(spec.volumes.map((v: Doc) => v.name));
      for (const v of spec.volumes) {
        if (v.secret) t.true(v.secret.secretName in INSTALL_PREREQUISITES || named(docs, 'Secret').has(v.secret.secretName));
        if (v.configMap) t.true(named(docs, 'ConfigMap').has(v.configMap.name), v.configMap.name);
        if (v.persistentVolumeClaim) t.true(named(docs, 'PersistentVolumeClaim').has(v.persistentVolumeClaim.claimName));
      }
      for (const c of spec.containers) {
        for (const m of c.volumeMounts) t.true(volumes.has(m.name), `${c.name} mounts ${m.name}`);
        const ports = new Set(c.ports.map((p: Doc) => p.containerPort));
        t.true(ports.has(c.livenessProbe.httpGet.port) && ports.has(c.readinessProbe.httpGet.port), c.name);
        t.is(c.livenessProbe.httpGet.path, '/healthz');
        t.is(c.readinessProbe.httpGet.path, '/readyz');
        t.like(c.securityContext, { runAsNonRoot: true, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false });
        t.deepEqual(c.securityContext.capabilities.drop, ['ALL']);
        t.truthy(c.resources.requests.memory && c.resources.limits.memory && c.resources.limits.cpu);
        for (const e of c.env) t.false(/TOKEN$|SECRET|PASSWORD/.test(e.name), `no credential in env: ${e.name}`);
      }
    }
    t.is(docs.filter((d) => /Role/.test(d.kind)).length, 0, 'no Role: neither process calls the Kubernetes API');
  });

  test(`${name}: the webhook configuration trusts the given CA and calls the webhook Service`, (t) => {
    const docs = readBack(options);
    const hooks = docs.filter((d) => d.kind === 'MutatingWebhookConfiguration');
    t.is(hooks.length, 1);
    const hook = hooks[0]?.webhooks[0];
    t.is(Buffer.from(hook.caBundle ?? hook.clientConfig.caBundle, 'base64').toString('utf8'), CA);
    t.like(hook, { sideEffects: 'None', failurePolicy: 'Fail', admissionReviewVersions: ['v1'] });
    t.deepEqual(hook.objectSelector.matchExpressions, [{ key: 'pai.io/agent', operator: 'Exists' }]);
    t.true(hook.namespaceSelector.matchExpressions[0].values.includes(options.namespace));
    const svc = docs.find((d) => d.kind === 'Service' && d.metadata.name === hook.clientConfig.service.name);
    t.is(svc?.metadata.namespace, hook.clientConfig.service.namespace);
    t.true(svc?.spec.ports.some((p: Doc) => p.port === hook.clientConfig.service.port));
    const webhook = pods(docs)
      .flatMap((p) => p.spec.containers)
      .find((c: Doc) => c.name === 'webhook');
    const dnsNames = webhook.env.find((e: Doc) => e.name === 'PAI_WEBHOOK_DNS_NAMES').value as string;
    t.true(dnsNames.split(',').includes(`pai-webhook.${options.namespace}.svc`), 'the serving certificate names the Service');
  });
}

test('local: one replica over a ReadWriteOnce claim, recreated, no disruption budget', (t) => {
  const docs = readBack({ ...BASE, store: 'local' });
  const deployments = docs.filter((d) => d.kind === 'Deployment');
  t.is(deployments.length, 1);
  t.like(deployments[0]?.spec, { replicas: 1, strategy: { type: 'Recreate' } });
  t.deepEqual(docs.find((d) => d.kind === 'PersistentVolumeClaim')?.spec.accessModes, ['ReadWriteOnce']);
  t.is(docs.filter((d) => d.kind === 'PodDisruptionBudget').length, 0);
});

test('vault: two replicas each with a budget, Vault env, and the kubernetes auth roles of this install', (t) => {
  const docs = readBack(BASE);
  t.deepEqual(
    docs.filter((d) => d.kind === 'Deployment').map((d) => [d.metadata.name, d.spec.replicas]),
    [
      ['pai-admin', 2],
      ['pai-webhook', 2],
    ],
  );
  t.is(docs.filter((d) => d.kind === 'PodDisruptionBudget').length, 2);
  const env = (name: string): Record<string, string> =>
    Object.fromEntries(
      pods(docs)
        .flatMap((p) => p.spec.containers)
        .find((c: Doc) => c.name === name)
        .env.map((e: Doc) => [e.name, e.value]),
    );
  t.like(env('admin'), { PAI_STORE: 'vault', PAI_VAULT_AUTH: 'kubernetes', PAI_VAULT_ROLE: 'pai-admin' });
  t.like(env('webhook'), { PAI_VAULT_ROLE: 'pai-webhook', VAULT_CACERT: '/etc/pai/vault-ca/ca.crt' });
  t.regex(env('webhook')['PAI_WEBHOOK_INJECTOR_ENV'] ?? '', /PAI_VAULT_ROLE=pai-injector/);
  const script = docs.find((d) => d.kind === 'ConfigMap' && d.metadata.name === 'pai-vault-setup')?.data['k8s-auth.sh'];
  t.regex(script, /role\/pai-admin" bound_service_account_names='pai-admin' bound_service_account_namespaces='pai-system'/);
  t.regex(script, /role\/pai-webhook" .*token_policies=pai-webhook/);
  t.regex(script, /role\/pai-injector" bound_service_account_names='\*' bound_service_account_namespaces='team-a,team-b'/);
  t.true(fs.existsSync(path.join(import.meta.dirname, '../vault/pai-webhook.hcl')), 'the pai-webhook policy exists');
});
