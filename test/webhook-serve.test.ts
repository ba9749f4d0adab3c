/**
 * `pai serve --role webhook` as a real child process on the store an admin process filled: real
 * AdmissionReviews over HTTPS (the client trusts only the pai CA, and checks the Service name), the
 * patch applied with fast-json-patch and the pod validated with kubernetes-models. The agent's env
 * has a secretRef entry whose value is a canary: it must reach no pod spec.
 */
import https from 'node:https';
import path from 'node:path';
import anyTest, { type TestFn } from 'ava';
import jsonpatch from 'fast-json-patch';
import type { Operation } from 'fast-json-patch';
import { Pod } from 'kubernetes-models/v1';
import type { IContainer, IPod } from 'kubernetes-models/v1';
import { type ServeHandle, runPai, startServe, tempDir } from './helpers/process.js';

const test = anyTest as TestFn<{ admin: ServeHandle; webhook: ServeHandle; port: number; ca: string }>;

const CANARY = 'CANARY-webhook-secret-7f3a9c';
const SERVICE = 'pai-webhook.pai-system.svc';
const MANIFEST = `
apiVersion: pai.io/v1
kind: Provider
metadata: {name: github, namespace: team-a}
spec: {type: github, auth: {type: pat, secretRef: gh}}
---
apiVersion: pai.io/v1
kind: Provider
metadata: {name: telegram, namespace: team-a}
spec: {type: telegram, host: api.telegram.org, auth: {type: bot-token, secretRef: bot, secretKey: token, agentEnvVar: TELEGRAM_BOT_TOKEN}}
---
apiVersion: pai.io/v1
kind: Agent
metadata: {name: triage-bot, namespace: team-a}
spec:
  providers: [github, telegram]
  env:
    - {name: LOG_LEVEL, value: info}
    - {name: BOT_TOKEN_VALUE, secretRef: {name: bot, key: token}}
`;

test.before(async (t) => {
  const dataDir = path.join(tempDir(), 'data');
  const admin = await startServe({ dataDir, args: ['--role', 'admin'] });
  const add = (name: string, value: string): Promise<unknown> =>
    runPai(['add', 'secret', name, '-n', 'team-a', '--from-literal', 'token'], admin.env, `${value}\n`);
  await add('gh', 'ghp_not_the_canary');
  await add('bot', CANARY);
  const applied = await runPai(['apply', '-f', '-'], admin.env, MANIFEST);
  if (applied.code !== 0) throw new Error(applied.stderr);
  const ca = await runPai(['get', 'ca'], admin.env);
  const webhook = await startServe({
    dataDir,
    args: ['--role', 'webhook'],
    env: {
      PAI_WEBHOOK_LISTEN: '127.0.0.1:0',
      PAI_WEBHOOK_DNS_NAMES: `${SERVICE},${SERVICE}.cluster.local`,
      PAI_WEBHOOK_INJECTOR_ENV: 'PAI_STORE=vault,VAULT_ADDR=https://vault.test:8200',
    },
  });
  const port = Number(/webhook: +https:\/\/127\.0\.0\.1:(\d+)\/mutate/.exec(webhook.stdout())?.[1]);
  t.context = { admin, webhook, port, ca: ca.stdout };
});

test.after.always(async (t) => {
  await t.context.webhook?.stop();
  await t.context.admin?.stop();
});

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- AdmissionReview JSON, read field by field
type Json = any;

function post(port: number, body: unknown, tlsOptions: https.RequestOptions): Promise<{ status: number; json: Json }> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: '127.0.0.1',
        port,
        method: 'POST',
        path: '/mutate',
        headers: { 'content-type': 'application/json' },
        ...tlsOptions,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(Buffer.concat(chunks).toString('utf8')) }));
      },
    );
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

function review(pod: IPod, namespace = 'team-a'): unknown {
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: 'b5b4c3d2-0000-4000-8000-000000000001',
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      namespace,
      operation: 'CREATE',
      userInfo: { username: 'system:serviceaccount:kube-system:replicaset-controller' },
      object: pod,
      oldObject: null,
      dryRun: false,
    },
  };
}

const deploymentPod: IPod = {
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: {
    generateName: 'triage-bot-7d9c8b5f4-',
    labels: { app: 'triage-bot', 'pai.io/agent': 'triage-bot', 'pod-template-hash': '7d9c8b5f4' },
    ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'triage-bot-7d9c8b5f4', uid: 'u1', controller: true }],
  },
  spec: { containers: [{ name: 'agent', image: 'ghcr.io/acme/triage-bot:2', securityContext: { runAsUser: 1000 } }] },
};
const jobPod: IPod = {
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { generateName: 'nightly-', labels: { 'pai.io/agent': 'triage-bot', 'batch.kubernetes.io/job-name': 'nightly' } },
  spec: { restartPolicy: 'Never', containers: [{ name: 'task', image: 'ghcr.io/acme/task:1' }] },
};
const ownInitPod: IPod = {
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'own', labels: { 'pai.io/agent': 'triage-bot' } },
  spec: {
    securityContext: { runAsUser: 2000 },
    initContainers: [{ name: 'migrate', image: 'busybox' }],
    volumes: [{ name: 'data', emptyDir: {} }],
    containers: [
      { name: 'metrics', image: 'exporter' },
      {
        name: 'agent',
        image: 'bot',
        env: [{ name: 'LOG_LEVEL', value: 'debug' }],
        volumeMounts: [{ name: 'data', mountPath: '/data' }],
      },
    ],
  },
};

const TRUSTED = (ca: string): https.RequestOptions => ({ ca, servername: SERVICE });

// Failure cases first.
test('the handshake fails without the pai CA, or for a name the certificate does not carry', async (t) => {
  const { port, ca } = t.context;
  await t.throwsAsync(post(port, review(jobPod), { servername: SERVICE }), { code: 'SELF_SIGNED_CERT_IN_CHAIN' });
  await t.throwsAsync(post(port, review(jobPod), { ca, servername: 'evil.example.com' }), {
    code: 'ERR_TLS_CERT_ALTNAME_INVALID',
  });
});

const refusals: [string, IPod, string, RegExp][] = [
  [
    'an unknown agent',
    { ...jobPod, metadata: { labels: { 'pai.io/agent': 'ghost' } } },
    'team-a',
    /unknown agent "ghost" in namespace "team-a"/,
  ],
  ['a pod in another namespace', deploymentPod, 'team-b', /unknown agent "triage-bot" in namespace "team-b"/],
];
for (const [name, pod, ns, message] of refusals) {
  test(`refused: ${name}`, async (t) => {
    const res = await post(t.context.port, review(pod, ns), TRUSTED(t.context.ca));
    t.is(res.status, 200);
    t.false(res.json.response.allowed);
    t.is(res.json.response.patch, undefined);
    t.regex(res.json.response.status.message, message);
  });
}

test('a pod already injected is allowed unchanged', async (t) => {
  const pod = { ...jobPod, metadata: { ...jobPod.metadata, annotations: { 'pai.io/injected': 'team-a/triage-bot' } } };
  const res = await post(t.context.port, review(pod), TRUSTED(t.context.ca));
  t.true(res.json.response.allowed);
  t.is(res.json.response.patch, undefined);
});

function patched(pod: IPod, response: { patch?: string; patchType?: string }): IPod {
  if (response.patchType !== 'JSONPatch' || response.patch === undefined) throw new Error('expected a JSONPatch');
  const ops = JSON.parse(Buffer.from(response.patch, 'base64').toString('utf8')) as Operation[];
  const doc = jsonpatch.applyPatch(structuredClone(pod), ops, true, false).newDocument;
  new Pod(doc).validate();
  return doc;
}

const injected: [string, IPod, string][] = [
  ["a Deployment's pod", deploymentPod, 'agent'],
  ["a Job's pod", jobPod, 'task'],
  ['a pod with its own init containers and volumes', ownInitPod, 'agent'],
];
for (const [name, pod, agentContainer] of injected) {
  test(`injected from the store: ${name}`, async (t) => {
    const res = await post(t.context.port, review(pod), TRUSTED(t.context.ca));
    t.is(res.status, 200);
    const raw = JSON.stringify(res.json) + Buffer.from(res.json.response.patch ?? '', 'base64').toString('utf8');
    t.false(raw.includes(CANARY), 'no secret value in the answer');
    t.true(res.json.response.allowed);
    const out = patched(pod, res.json.response);
    const agent = out.spec?.containers.find((c) => c.name === agentContainer) as IContainer;
    const env = Object.fromEntries((agent.env ?? []).map((e) => [e.name, e.value]));
    t.is(env['LOG_LEVEL'], pod === ownInitPod ? 'debug' : 'info', "the container's own env wins");
    t.regex(env['TELEGRAM_BOT_TOKEN'] ?? '', /^1000000000:pai-placeholder-[0-9a-f]{16}$/);
    t.is(env['SSL_CERT_FILE'], '/etc/pai/ca-bundle.pem');
    t.false('BOT_TOKEN_VALUE' in env, 'a secretRef entry is never put into a pod');
    const files = out.spec?.initContainers?.find((c) => c.name === 'pai-files');
    const piece = (n: string): string => files?.env?.find((e) => e.name === n)?.value ?? '';
    t.regex(piece('PAI_ENVOY_YAML'), /pai\.agent: triage-bot/);
    t.regex(piece('PAI_ENVOY_YAML'), /pai\.namespace: team-a/);
    t.regex(piece('PAI_HOSTS'), /^127\.0\.0\.1 localhost$/m);
    t.regex(piece('PAI_HOSTS'), /^127\.0\.0\.1 api\.github\.com$/m);
    t.regex(piece('PAI_HOSTS'), /^127\.0\.0\.1 api\.telegram\.org$/m);
    const caCert = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(t.context.ca)?.[0] ?? 'none';
    t.true(piece('PAI_CA_BUNDLE').includes(caCert), 'the bundle holds the pai CA');
    const injector = out.spec?.initContainers?.find((c) => c.name === 'pai-injector');
    t.like(Object.fromEntries((injector?.env ?? []).map((e) => [e.name, e.value])), {
      PAI_STORE: 'vault',
      VAULT_ADDR: 'https://vault.test:8200',
    });
  });
}

test('bad webhook settings stop pai serve with the variable named, never its value', async (t) => {
  const cases: [Record<string, string>, RegExp][] = [
    [{ PAI_WEBHOOK_INJECTOR_ENV: `VAULT_TOKEN=${CANARY}` }, /PAI_WEBHOOK_INJECTOR_ENV: VAULT_TOKEN holds a credential/],
    [{ PAI_WEBHOOK_MODE: 'both' }, /PAI_WEBHOOK_MODE: expected one of sidecar, shared/],
    [{ PAI_WEBHOOK_MODE: 'shared' }, /PAI_WEBHOOK_SHARED_INJECTOR: required in shared mode/],
    [{ PAI_WEBHOOK_DNS_NAMES: '*.svc' }, /PAI_WEBHOOK_DNS_NAMES: not a DNS name/],
    [{ PAI_WEBHOOK_LISTEN: 'unix:/tmp/w.sock' }, /PAI_WEBHOOK_LISTEN/],
  ];
  for (const [env, message] of cases) {
    const r = await runPai(['serve', '--role', 'webhook'], { ...t.context.webhook.env, ...env });
    t.not(r.code, 0);
    t.regex(r.stderr + r.stdout, message);
    t.false((r.stderr + r.stdout).includes(CANARY));
  }
});
