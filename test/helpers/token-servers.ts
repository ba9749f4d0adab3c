/**
 * Local OAuth token endpoints for the azure and gcp suites, checking requests the way the real
 * ones do and issuing random tokens they remember (so an upstream can check that a token was
 * issued and had not expired).
 *
 * - Azure AD v2.0 client credentials: POST /<tenant>/oauth2/v2.0/token, form-encoded, with
 *   grant_type=client_credentials, client_id, client_secret and scope; anything else is answered
 *   400 {"error":"invalid_client"|"invalid_request"|"invalid_scope", …} as Azure does.
 * - Google JWT bearer: POST with grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer and an
 *   RS256 assertion verified with the service account's public key: iss = client_email, aud = the
 *   endpoint's URL, scope as configured, kid = private_key_id, exp - iat at most one hour and not
 *   expired; otherwise 400 {"error":"invalid_grant"}.
 * Both can be told to fail, hang or answer slowly, and count the calls.
 */
import { generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { decodeProtectedHeader, jwtVerify } from 'jose';

/** How a token server answers the next requests. */
export type TokenBehaviour =
  | { readonly kind: 'ok' }
  | { readonly kind: 'status'; readonly status: number; readonly body: string }
  | { readonly kind: 'hang' }
  | { readonly kind: 'delay'; readonly ms: number }
  | { readonly kind: 'redirect'; readonly location: string }
  | { readonly kind: 'raw'; readonly status: number; readonly body: string };

export interface IssuedToken {
  readonly issuedAt: number;
  readonly expiresAt: number;
}

export interface TokenServer {
  /** The URL to put in spec.auth.tokenUrl (or a key's token_uri). */
  readonly url: string;
  /** Requests received (valid or not). */
  calls: number;
  /** Requests that were rejected, with the reason. */
  readonly rejected: string[];
  /** Every token issued. */
  readonly issued: Map<string, IssuedToken>;
  /** Seconds of lifetime announced in expires_in (a string when `stringExpiry`). */
  expiresIn: number;
  stringExpiry: boolean;
  behaviour: TokenBehaviour;
  /** True when `token` was issued here and has not expired at `at` (ms). */
  valid(token: string, at?: number): boolean;
  close(): Promise<void>;
}

function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function json(res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

type Check = (form: URLSearchParams, req: http.IncomingMessage, url: string) => Promise<string | undefined>;

async function startTokenServer(path: string, check: Check): Promise<TokenServer> {
  const sockets = new Set<Socket>();
  const server = http.createServer();
  const port = await new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
  const url = `http://127.0.0.1:${port}${path}`;
  const state: TokenServer = {
    url,
    calls: 0,
    rejected: [],
    issued: new Map(),
    expiresIn: 3600,
    stringExpiry: false,
    behaviour: { kind: 'ok' },
    valid(token, at = Date.now()) {
      const t = state.issued.get(token);
      return t !== undefined && at < t.expiresAt;
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  server.on('connection', (s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.on('request', (req, res) => {
    void (async () => {
      state.calls++;
      const body = await readBody(req);
      const b = state.behaviour;
      if (b.kind === 'hang') return;
      if (b.kind === 'delay') await new Promise((r) => setTimeout(r, b.ms));
      if (b.kind === 'status') return json(res, b.status, JSON.parse(b.body));
      if (b.kind === 'raw') {
        res.writeHead(b.status, { 'content-type': 'application/json' });
        return res.end(b.body);
      }
      if (b.kind === 'redirect') {
        res.writeHead(307, { location: b.location });
        return res.end();
      }
      const problem =
        req.method !== 'POST'
          ? 'method'
          : req.url !== path
            ? `path ${req.url ?? ''}`
            : !(req.headers['content-type'] ?? '').startsWith('application/x-www-form-urlencoded')
              ? 'content-type'
              : await check(new URLSearchParams(body), req, url);
      if (problem !== undefined) {
        state.rejected.push(problem);
        return json(res, 400, { error: problem.split(':')[0], error_description: problem });
      }
      const token = `tok-${randomBytes(16).toString('hex')}`;
      const now = Date.now();
      state.issued.set(token, { issuedAt: now, expiresAt: now + state.expiresIn * 1000 });
      json(res, 200, {
        token_type: 'Bearer',
        expires_in: state.stringExpiry ? String(state.expiresIn) : state.expiresIn,
        access_token: token,
      });
    })();
  });
  return state;
}

export interface AzureExpectation {
  readonly tenant: string;
  readonly clientId: string;
  readonly clientSecret: string;
  readonly scope: string;
}

/** An Azure AD v2.0 token endpoint for one application; its `url` includes the tenant path. */
export function startAzureTokenServer(expect: AzureExpectation): Promise<TokenServer> {
  return startTokenServer(`/${expect.tenant}/oauth2/v2.0/token`, (form) => {
    if (form.get('grant_type') !== 'client_credentials') return Promise.resolve('unsupported_grant_type: grant_type');
    if (form.get('client_id') !== expect.clientId) return Promise.resolve('invalid_client: client_id');
    if (form.get('client_secret') !== expect.clientSecret) return Promise.resolve('invalid_client: client_secret');
    if (form.get('scope') !== expect.scope) return Promise.resolve('invalid_scope: scope');
    return Promise.resolve(undefined);
  });
}

/** A test service account: its key.json (as the secret holds it) and public key. */
export interface ServiceAccountKey {
  readonly json: Record<string, string>;
  readonly text: string;
  readonly publicKey: KeyObject;
  readonly privateKeyPem: string;
}

/** Generates an RSA service-account key; `tokenUri` becomes its token_uri. */
export function makeServiceAccount(email: string, tokenUri = 'https://oauth2.googleapis.com/token'): ServiceAccountKey {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const privateKeyPem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const json = {
    type: 'service_account',
    project_id: 'pai-test',
    private_key_id: randomBytes(20).toString('hex'),
    private_key: privateKeyPem,
    client_email: email,
    client_id: '1234567890',
    token_uri: tokenUri,
  };
  return { json, text: JSON.stringify(json), publicKey, privateKeyPem };
}

export interface GcpExpectation {
  readonly account: ServiceAccountKey;
  readonly scope: string;
  /** The aud the assertion must carry; default the server's own URL. */
  readonly audience?: string;
}

/** A Google OAuth 2.0 token endpoint accepting JWT bearer assertions of one service account. */
export function startGcpTokenServer(expect: GcpExpectation, path = '/token'): Promise<TokenServer> {
  return startTokenServer(path, async (form, _req, url) => {
    if (form.get('grant_type') !== 'urn:ietf:params:oauth:grant-type:jwt-bearer') return 'unsupported_grant_type: grant_type';
    const assertion = form.get('assertion');
    if (!assertion) return 'invalid_request: no assertion';
    try {
      const header = decodeProtectedHeader(assertion);
      if (header.kid !== expect.account.json['private_key_id']) return 'invalid_grant: kid';
      const { payload } = await jwtVerify(assertion, expect.account.publicKey, {
        algorithms: ['RS256'],
        issuer: expect.account.json['client_email'] ?? '',
        audience: expect.audience ?? url,
      });
      if (payload['scope'] !== expect.scope) return 'invalid_scope: scope';
      if (typeof payload.iat !== 'number' || typeof payload.exp !== 'number' || payload.exp - payload.iat > 3600)
        return 'invalid_grant: lifetime';
      return undefined;
    } catch (err) {
      return `invalid_grant: ${err instanceof Error ? err.name : 'assertion'}`;
    }
  });
}

/** Hosts of the cloud fixture's targets. */
export const CLOUD_HOSTS = {
  arm: 'management.azure.com',
  gcs: 'storage.googleapis.com',
  bq: 'bigquery.googleapis.com',
  down: 'arm-down.example.com',
  slow: 'arm-slow.example.com',
  hang: 'arm-hang.example.com',
  echo: 'arm-echo.example.com',
  badTenant: 'arm-bad-tenant.example.com',
  badKey: 'gcp-bad-key.example.com',
} as const;

export const AZURE_SCOPE = 'https://management.azure.com/.default';
export const GCS_SCOPE = 'https://www.googleapis.com/auth/devstorage.read_only';

export interface CloudFixture {
  readonly azure: TokenServer;
  readonly gcp: TokenServer;
  /** The endpoint named by bq's tokenUrl (its key's token_uri points elsewhere). */
  readonly gcpOverride: TokenServer;
  readonly down: TokenServer;
  readonly slow: TokenServer;
  readonly hang: TokenServer;
  readonly echo: TokenServer;
  /** The service account behind secret gcp-sa (for more gcp endpoints in a suite). */
  readonly gcpAccount: ServiceAccountKey;
  readonly values: {
    readonly clientId: string;
    readonly clientSecret: string;
    readonly tenant: string;
    readonly privateKey: string;
    readonly privateKey2: string;
    readonly sessionToken: string;
    readonly stsKeyId: string;
    readonly stsSecret: string;
  };
  /** Every secret value of the fixture, for leak searches. */
  readonly all: readonly string[];
  close(): Promise<void>;
}

interface AdminLike {
  createSecret(name: string, data: Readonly<Record<string, string | Buffer>>): Promise<void>;
  apply(...docs: Record<string, unknown>[]): Promise<void>;
}

const doc = (kind: 'Agent' | 'Provider', name: string, spec: Record<string, unknown>): Record<string, unknown> => ({
  apiVersion: 'pai/v1',
  kind,
  metadata: { name },
  spec,
});

/** The token servers of a cloud fixture, started before the injector so that it can allow their URLs. */
export interface CloudServers {
  /** Every endpoint URL, for PAI_ALLOWED_TOKEN_URLS (comma-separated). */
  readonly allowedTokenUrls: string;
  readonly values: CloudFixture['values'];
  readonly gcpAccount: ServiceAccountKey;
  /** Applies the fixture's secrets and resources through `admin`. */
  seed(admin: AdminLike): Promise<CloudFixture>;
}

/**
 * Starts the token servers of the cloud fixture; `seed` then applies, through the admin API, agent
 * `cloud-bot` with azure and gcp Providers (working, failing, slow, hanging, echoing,
 * misconfigured) and agent `sts-bot` with an aws Provider whose secret holds a session token.
 * `canary` makes every secret value.
 */
export async function startCloudServers(canary: (label: string) => string): Promise<CloudServers> {
  const parts = await cloudServers(canary);
  const urls = [parts.azure, parts.down, parts.slow, parts.hang, parts.echo, parts.gcp, parts.gcpOverride].map((s) => s.url);
  return {
    allowedTokenUrls: urls.join(','),
    values: parts.values,
    gcpAccount: parts.account,
    seed: (admin) => seedCloud(admin, parts),
  };
}

async function cloudServers(canary: (label: string) => string) {
  const clientSecret = `${canary('client-secret')}~._-`;
  const values = {
    clientId: `cid-${canary('client-id')}`.replace(/[^A-Za-z0-9-]/g, '-'),
    clientSecret,
    tenant: 'contoso.onmicrosoft.com',
    privateKey: '',
    privateKey2: '',
    sessionToken: canary('session'),
    stsKeyId: `ASIA${canary('stskeyid')}`,
    stsSecret: canary('stssecret'),
  };
  const expect = { tenant: values.tenant, clientId: values.clientId, clientSecret, scope: AZURE_SCOPE };
  const azure = await startAzureTokenServer(expect);
  const [down, slow, hang, echo] = await Promise.all([1, 2, 3, 4].map(() => startAzureTokenServer(expect)));
  if (!down || !slow || !hang || !echo) throw new Error('token servers did not start');
  down.behaviour = { kind: 'status', status: 500, body: '{"error":"temporarily_unavailable"}' };
  slow.behaviour = { kind: 'delay', ms: 400 };
  hang.behaviour = { kind: 'hang' };
  echo.behaviour = {
    kind: 'raw',
    status: 401,
    body: JSON.stringify({ error: 'invalid_client', error_description: `bad secret ${clientSecret}` }),
  };
  // The gcp key's token_uri must be known before the server starts: start on a path, then make the key.
  const account = makeServiceAccount('pai-test@pai-test.iam.gserviceaccount.com');
  const gcp = await startGcpTokenServer({ account, scope: GCS_SCOPE });
  const keyJson = JSON.stringify({ ...account.json, token_uri: gcp.url });
  const account2 = makeServiceAccount('pai-bq@pai-test.iam.gserviceaccount.com', 'https://oauth2.googleapis.com/token');
  const gcpOverride = await startGcpTokenServer({ account: account2, scope: GCS_SCOPE }, '/override/token');
  values.privateKey = account.privateKeyPem;
  values.privateKey2 = account2.privateKeyPem;
  return { values, clientSecret, azure, down, slow, hang, echo, account, gcp, keyJson, account2, gcpOverride };
}

async function seedCloud(admin: AdminLike, parts: Awaited<ReturnType<typeof cloudServers>>): Promise<CloudFixture> {
  const { values, clientSecret, azure, down, slow, hang, echo, account, gcp, keyJson, account2, gcpOverride } = parts;
  await admin.createSecret('azure-sp', { client_id: values.clientId, client_secret: clientSecret, tenant_id: values.tenant });
  await admin.createSecret('azure-bad-tenant', { client_id: values.clientId, client_secret: clientSecret, tenant_id: '../evil' });
  await admin.createSecret('gcp-sa', { 'key.json': keyJson });
  await admin.createSecret('gcp-sa2', { 'sa.json': account2.text });
  await admin.createSecret('gcp-bad', { 'key.json': JSON.stringify({ ...account.json, private_key: 'not a key' }) });
  await admin.createSecret('aws-sts', {
    access_key_id: values.stsKeyId,
    secret_access_key: values.stsSecret,
    session_token: values.sessionToken,
  });
  const azureProvider = (name: string, server: TokenServer, hosts?: string[], secret = 'azure-sp'): Record<string, unknown> =>
    doc('Provider', name, { type: 'azure', ...(hosts ? { hosts } : {}), auth: { secretRef: secret, tokenUrl: server.url } });
  await admin.apply(
    azureProvider('arm', azure),
    azureProvider('arm-down', down, [CLOUD_HOSTS.down]),
    azureProvider('arm-slow', slow, [CLOUD_HOSTS.slow]),
    azureProvider('arm-hang', hang, [CLOUD_HOSTS.hang]),
    azureProvider('arm-echo', echo, [CLOUD_HOSTS.echo]),
    azureProvider('arm-bad-tenant', azure, [CLOUD_HOSTS.badTenant], 'azure-bad-tenant'),
    doc('Provider', 'gcs', { type: 'gcp', hosts: [CLOUD_HOSTS.gcs], auth: { secretRef: 'gcp-sa', scope: GCS_SCOPE } }),
    doc('Provider', 'bq', {
      type: 'gcp',
      hosts: [CLOUD_HOSTS.bq],
      auth: { secretRef: 'gcp-sa2', secretKey: 'sa.json', scope: GCS_SCOPE, tokenUrl: gcpOverride.url },
    }),
    doc('Provider', 'gcp-bad', { type: 'gcp', hosts: [CLOUD_HOSTS.badKey], auth: { secretRef: 'gcp-bad', scope: GCS_SCOPE } }),
    doc('Provider', 'aws-sts', { type: 'aws', auth: { secretRef: 'aws-sts' } }),
  );
  await admin.apply(
    doc('Agent', 'cloud-bot', {
      providers: ['arm', 'arm-down', 'arm-slow', 'arm-hang', 'arm-echo', 'arm-bad-tenant', 'gcs', 'bq', 'gcp-bad'],
    }),
    doc('Agent', 'sts-bot', { providers: ['aws-sts'] }),
  );
  const servers = [azure, down, slow, hang, echo, gcp, gcpOverride];
  return {
    azure,
    gcp,
    gcpOverride,
    down,
    slow,
    hang,
    echo,
    gcpAccount: account,
    values,
    all: [clientSecret, values.privateKey, values.privateKey2, values.sessionToken, values.stsSecret, keyJson, account2.text],
    async close() {
      await Promise.all(servers.map((s) => s.close()));
    },
  };
}
