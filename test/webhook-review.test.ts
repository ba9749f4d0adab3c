/**
 * The mutating webhook on real AdmissionReview documents: the JSONPatch is applied with
 * fast-json-patch and the patched pod validated against Kubernetes' schemas (kubernetes-models).
 */
import test from 'ava';
import jsonpatch from 'fast-json-patch';
import type { Operation } from 'fast-json-patch';
import { Pod } from 'kubernetes-models/v1';
import type { IPod } from 'kubernetes-models/v1';
import type { InjectionOptions } from '../src/webhook/containers.js';
import { StaticSidecarPieces, type AgentPieces } from '../src/webhook/pieces.js';
import { type AdmissionReviewOut, reviewPod } from '../src/webhook/review.js';

const PIECES: AgentPieces = {
  envoyBootstrap: 'static_resources: {}\n',
  hosts: '127.0.0.1 localhost\n127.0.0.1 api.github.com\n',
  caBundle: '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n',
  env: [
    { name: 'SSL_CERT_FILE', value: '/etc/pai/ca-bundle.pem' },
    { name: 'GITHUB_TOKEN', value: 'pai-placeholder' },
  ],
};
const pieces = new StaticSidecarPieces(new Map([['team-a/triage-bot', PIECES]]));
const OPTIONS: InjectionOptions = {
  mode: 'sidecar',
  paiImage: 'ghcr.io/pai/pai-secrets:1',
  envoyImage: 'envoyproxy/envoy:v1.36.2',
  redirectImage: 'ghcr.io/pai/pai-redirect:1',
  injectorEnv: [
    { name: 'PAI_STORE', value: 'vault' },
    { name: 'PAI_NODE_PROFILE', value: 'huge' },
  ],
  tokenAudience: 'vault',
};

function review(pod: IPod, namespace = 'team-a', operation = 'CREATE'): unknown {
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: '705ab4f5-6393-11e8-b7cc-42010a800002',
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      requestKind: { group: '', version: 'v1', kind: 'Pod' },
      namespace,
      operation,
      userInfo: { username: 'system:serviceaccount:kube-system:replicaset-controller' },
      object: pod,
      oldObject: null,
      dryRun: false,
      options: { apiVersion: 'meta.k8s.io/v1', kind: 'CreateOptions' },
    },
  };
}

// A Deployment's pod as the ReplicaSet controller creates it: generateName, no name, no namespace.
const deploymentPod: IPod = {
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: {
    generateName: 'triage-bot-7d9c8b5f4-',
    labels: { app: 'triage-bot', 'pai.io/agent': 'triage-bot', 'pod-template-hash': '7d9c8b5f4' },
    ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'triage-bot-7d9c8b5f4', uid: 'u1', controller: true }],
  },
  spec: {
    serviceAccountName: 'triage-bot',
    containers: [{ name: 'agent', image: 'ghcr.io/acme/triage-bot:2', securityContext: { runAsUser: 1000 } }],
  },
};

const JOB_SPEC = { restartPolicy: 'Never' as const, containers: [{ name: 'task', image: 'ghcr.io/acme/task:1' }] };
const jobPod: IPod = {
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: {
    generateName: 'nightly-',
    annotations: { 'pai.io/agent': 'triage-bot' },
    labels: { 'batch.kubernetes.io/job-name': 'nightly' },
  },
  spec: JOB_SPEC,
};

const ownInitPod: IPod = {
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: 'own', labels: { 'pai.io/agent': 'triage-bot' }, annotations: { team: 'a' } },
  spec: {
    securityContext: { runAsUser: 2000 },
    initContainers: [{ name: 'migrate', image: 'busybox' }],
    volumes: [{ name: 'data', emptyDir: {} }],
    containers: [
      { name: 'metrics', image: 'exporter' },
      {
        name: 'agent',
        image: 'bot',
        env: [{ name: 'SSL_CERT_FILE', value: '/mine.pem' }],
        volumeMounts: [
          { name: 'data', mountPath: '/data' },
          { name: 'data', mountPath: '/etc/hosts', subPath: 'hosts' },
        ],
        securityContext: { readOnlyRootFilesystem: true },
      },
    ],
  },
};

function patched(pod: IPod, out: AdmissionReviewOut): IPod {
  t_assert(out.response.patchType === 'JSONPatch' && out.response.patch !== undefined, 'a JSONPatch');
  const ops = JSON.parse(Buffer.from(out.response.patch ?? '', 'base64').toString('utf8')) as Operation[];
  const doc = jsonpatch.applyPatch(structuredClone(pod), ops, true, false).newDocument;
  new Pod(doc).validate();
  return doc;
}

function t_assert(cond: boolean, what: string): void {
  if (!cond) throw new Error(`expected ${what}`);
}

// Failure cases first.
test('an unknown agent is refused with a message naming it and its namespace', async (t) => {
  const pod = { ...deploymentPod, metadata: { ...deploymentPod.metadata, labels: { 'pai.io/agent': 'ghost' } } };
  const out = await reviewPod(review(pod), { pieces, options: OPTIONS });
  t.false(out.response.allowed);
  t.is(out.response.uid, '705ab4f5-6393-11e8-b7cc-42010a800002');
  t.is(out.response.patch, undefined);
  t.regex(out.response.status?.message ?? '', /unknown agent "ghost" in namespace "team-a"/);
  t.is(out.response.status?.code, 403);
});

test('a pod in another namespace does not get an agent of team-a', async (t) => {
  const out = await reviewPod(review(deploymentPod, 'team-b'), { pieces, options: OPTIONS });
  t.false(out.response.allowed);
  t.regex(out.response.status?.message ?? '', /namespace "team-b"/);
});

const refusals: [string, IPod, RegExp][] = [
  [
    'agent as root',
    { ...jobPod, spec: { ...JOB_SPEC, containers: [{ name: 'a', image: 'x', securityContext: { runAsUser: 0 } }] } },
    /uid 0/,
  ],
  ['agent as the sidecar uid', { ...jobPod, spec: { ...JOB_SPEC, securityContext: { runAsUser: 10101 } } }, /uid 10101/],
  ['a volume named like ours', { ...jobPod, spec: { ...JOB_SPEC, volumes: [{ name: 'pai-run', emptyDir: {} }] } }, /"pai-run"/],
  ['a bad agent name', { ...jobPod, metadata: { annotations: { 'pai.io/agent': 'Bad_Name' } } }, /not a valid agent name/],
  [
    'an agent container that does not exist',
    { ...jobPod, metadata: { annotations: { 'pai.io/agent': 'triage-bot', 'pai.io/agent-container': 'nope' } } },
    /"nope"/,
  ],
];
for (const [name, pod, message] of refusals) {
  test(`refused: ${name}`, async (t) => {
    const out = await reviewPod(review(pod), { pieces, options: OPTIONS });
    t.false(out.response.allowed);
    t.regex(out.response.status?.message ?? '', message);
  });
}

test('not an AdmissionReview: throws bad_request (the server answers 400)', async (t) => {
  await t.throwsAsync(reviewPod({ kind: 'Pod' }, { pieces, options: OPTIONS }), { message: /AdmissionReview/ });
});

test('an already injected pod, an UPDATE and a pod naming no agent are allowed unchanged', async (t) => {
  const injected = patched(deploymentPod, await reviewPod(review(deploymentPod), { pieces, options: OPTIONS }));
  const plain: IPod = { ...jobPod, metadata: { name: 'plain' } };
  for (const [pod, op] of [
    [injected, 'CREATE'],
    [deploymentPod, 'UPDATE'],
    [plain, 'CREATE'],
  ] as const) {
    const out = await reviewPod(review(pod, 'team-a', op), { pieces, options: OPTIONS });
    t.true(out.response.allowed);
    t.is(out.response.patch, undefined);
  }
});

test("a Deployment's pod gets native sidecars, volumes, env, redirect and no service-account token", async (t) => {
  const pod = patched(deploymentPod, await reviewPod(review(deploymentPod), { pieces, options: OPTIONS }));
  const spec = pod.spec;
  t.is(spec?.automountServiceAccountToken, false);
  t.deepEqual(
    spec?.initContainers?.map((c) => [c.name, c.restartPolicy]),
    [
      ['pai-files', undefined],
      ['pai-redirect', undefined],
      ['pai-injector', 'Always'],
      ['envoy', 'Always'],
    ],
  );
  const injectorEnv = spec?.initContainers?.[2]?.env ?? [];
  t.deepEqual(
    injectorEnv.filter((e) => e.name === 'PAI_NODE_PROFILE'),
    [{ name: 'PAI_NODE_PROFILE', value: 'pod' }],
    'the per-pod injector runs with the bounded heap, once',
  );
  t.true(injectorEnv.some((e) => e.name === 'PAI_STORE' && e.value === 'vault'));
  const redirect = spec?.initContainers?.[1]?.command?.join(' ') ?? '';
  t.regex(redirect, /--dport 443 -m owner --uid-owner 1000 -j REDIRECT --to-ports 8443/);
  t.deepEqual(spec?.volumes?.map((v) => v.name).sort(), [
    'pai-envoy',
    'pai-files',
    'pai-injector-data',
    'pai-injector-token',
    'pai-run',
  ]);
  const tokenMounts = [...(spec?.initContainers ?? []), ...(spec?.containers ?? [])].filter((c) =>
    (c.volumeMounts ?? []).some((m) => m.name === 'pai-injector-token' || m.name === 'pai-run'),
  );
  t.deepEqual(tokenMounts.map((c) => c.name).sort(), ['envoy', 'pai-injector'], 'only the sidecars reach the socket and token');
  const agent = spec?.containers[0];
  t.deepEqual(agent?.env, PIECES.env);
  t.deepEqual(
    agent?.volumeMounts?.map((m) => m.mountPath),
    ['/etc/hosts', '/etc/pai/ca-bundle.pem'],
  );
  t.deepEqual(agent?.securityContext, { runAsUser: 1000 }, "the agent's own security context is kept");
  t.is(pod.metadata?.annotations?.['pai.io/injected'], 'team-a/triage-bot');
  const files = spec?.initContainers?.[0]?.env?.find((e) => e.name === 'PAI_HOSTS');
  t.is(files?.value, PIECES.hosts);
});

test("a Job's pod (annotation only, restartPolicy Never) still completes: the sidecars are init containers", async (t) => {
  const pod = patched(jobPod, await reviewPod(review(jobPod), { pieces, options: OPTIONS }));
  t.is(pod.spec?.containers.length, 1);
  t.is(pod.spec?.restartPolicy, 'Never');
  t.regex(pod.spec?.initContainers?.[1]?.command?.join(' ') ?? '', /! --uid-owner 10101/, 'uid unknown: all but Envoy');
  t.deepEqual(pod.spec?.containers[0]?.securityContext, { allowPrivilegeEscalation: false });
});

test("a pod with its own init containers and volumes keeps them, and the agent's own env and mounts win", async (t) => {
  const pod = patched(ownInitPod, await reviewPod(review(ownInitPod), { pieces, options: OPTIONS }));
  t.deepEqual(
    pod.spec?.initContainers?.map((c) => c.name),
    ['pai-files', 'pai-redirect', 'pai-injector', 'envoy', 'migrate'],
  );
  t.is(pod.spec?.volumes?.[0]?.name, 'data');
  t.is(pod.metadata?.annotations?.['team'], 'a');
  const agent = pod.spec?.containers[1];
  t.deepEqual(agent?.env, [
    { name: 'SSL_CERT_FILE', value: '/mine.pem' },
    { name: 'GITHUB_TOKEN', value: 'pai-placeholder' },
  ]);
  t.deepEqual(
    agent?.volumeMounts?.map((m) => m.mountPath),
    ['/data', '/etc/hosts', '/etc/pai/ca-bundle.pem'],
  );
  t.is(agent?.volumeMounts?.[1]?.name, 'data', 'its own /etc/hosts mount is kept');
  t.deepEqual(agent?.securityContext, { readOnlyRootFilesystem: true });
  t.deepEqual(pod.spec?.containers[0], { name: 'metrics', image: 'exporter' });
  t.regex(pod.spec?.initContainers?.[1]?.command?.join(' ') ?? '', /--uid-owner 2000 /);
});

test('shared mode: Envoy only, no injector, no token, no injector socket volume', async (t) => {
  const out = await reviewPod(review(deploymentPod), { pieces, options: { ...OPTIONS, mode: 'shared' } });
  const pod = patched(deploymentPod, out);
  t.deepEqual(
    pod.spec?.initContainers?.map((c) => c.name),
    ['pai-files', 'pai-redirect', 'envoy'],
  );
  t.deepEqual(
    pod.spec?.volumes?.map((v) => v.name),
    ['pai-envoy', 'pai-files'],
  );
});
