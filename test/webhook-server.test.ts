/** The webhook over HTTPS with a certificate from the pai CA: the API server's view. */
import https from 'node:https';
import test from 'ava';
import { createCa, openSigningCa } from '../src/tls/ca.js';
import { issueLeaf } from '../src/tls/leaf.js';
import { StaticSidecarPieces } from '../src/webhook/pieces.js';
import { startWebhookServer } from '../src/webhook/server.js';

const SERVICE = 'pai-webhook.pai-system.svc';
let stop: (() => void) | undefined;
test.after.always(() => stop?.());

function post(port: number, ca: string, body: string): Promise<{ status: number; json: unknown }> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: '127.0.0.1',
        port,
        path: '/mutate',
        method: 'POST',
        ca,
        servername: SERVICE,
        headers: { 'content-type': 'application/json' },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(Buffer.concat(chunks).toString('utf8')) }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

test('answers an AdmissionReview over TLS with a pai CA certificate; a non-review is 400', async (t) => {
  const now = Date.now();
  const created = await createCa(now);
  const ca = await openSigningCa(created.certPem, created.key);
  const leaf = await issueLeaf(ca, { namespace: 'pai-system', name: 'pai-webhook' }, [SERVICE], now);
  const { server, port } = await startWebhookServer(
    {
      cert: leaf.chainPem,
      key: leaf.key.reveal(),
      pieces: new StaticSidecarPieces(new Map()),
      options: { mode: 'sidecar', paiImage: 'p', envoyImage: 'e', redirectImage: 'r', injectorEnv: [], tokenAudience: 'vault' },
    },
    '127.0.0.1',
    0,
  );
  stop = () => server.close();
  const bad = await post(port, created.certPem, '{"kind":"Pod"}');
  t.is(bad.status, 400);
  const review = {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: 'u-1',
      kind: { group: '', version: 'v1', kind: 'Pod' },
      namespace: 'team-a',
      operation: 'CREATE',
      object: { metadata: { labels: { 'pai.io/agent': 'ghost' } }, spec: { containers: [{ name: 'agent', image: 'x' }] } },
    },
  };
  const out = await post(port, created.certPem, JSON.stringify(review));
  t.is(out.status, 200);
  t.like(out.json, { kind: 'AdmissionReview', response: { uid: 'u-1', allowed: false } });
});
