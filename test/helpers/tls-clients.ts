/**
 * TLS clients the way agents run them, each trusting only a CA bundle file (what `pai render
 * ca-bundle` writes), each connecting to a local server while asking for a real host name (what the
 * agent container's hosts file and 443→8443 redirect amount to): Node's tls and https, Node's fetch
 * in a child process with NODE_EXTRA_CA_CERTS (a preloaded dns.lookup stands in for the hosts file),
 * curl (`--cacert`, `--resolve`) and Python's ssl (/usr/bin/python3, when present).
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { pathToFileURL } from 'node:url';

/** One connection attempt: did the client accept the server for `host`, and if not, why. */
export interface Outcome {
  readonly host: string;
  readonly ok: boolean;
  readonly detail: string;
}

export type Client = (bundleFile: string, port: number, hosts: readonly string[]) => Promise<Outcome[]>;

export const PYTHON = '/usr/bin/python3';

/** An HTTPS server on 127.0.0.1:0 presenting `chainPem` with `keyPem`, answering "pai-ok". */
export async function startTlsServer(chainPem: string, keyPem: string): Promise<{ port: number; close(): Promise<void> }> {
  const server = https.createServer({ cert: chainPem, key: keyPem }, (_req, res) => res.end('pai-ok'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function run(
  file: string,
  args: readonly string[],
  env?: NodeJS.ProcessEnv,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) =>
    execFile(file, args, { timeout: 20_000, ...(env ? { env } : {}) }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
    ),
  );
}

/** Node's tls.connect with `ca` = the bundle and `servername` = the host (SNI and the name checked). */
export const nodeTls: Client = async (bundleFile, port, hosts) => {
  const ca = fs.readFileSync(bundleFile, 'utf8');
  return Promise.all(
    hosts.map(
      (host) =>
        new Promise<Outcome>((resolve) => {
          const socket = tls.connect({ host: '127.0.0.1', port, servername: host, ca }, () => {
            socket.end();
            resolve({ host, ok: socket.authorized, detail: 'connected' });
          });
          socket.on('error', (err: NodeJS.ErrnoException) => resolve({ host, ok: false, detail: err.code ?? err.message }));
        }),
    ),
  );
};

/** Node's https.get with the bundle, the host name resolved to 127.0.0.1 (as the agent's hosts file does). */
export const nodeHttps: Client = async (bundleFile, port, hosts) => {
  const ca = fs.readFileSync(bundleFile, 'utf8');
  const lookup: NonNullable<https.RequestOptions['lookup']> = (_host, options, cb) =>
    options.all ? cb(null, [{ address: '127.0.0.1', family: 4 }]) : cb(null, '127.0.0.1', 4);
  return Promise.all(
    hosts.map(
      (host) =>
        new Promise<Outcome>((resolve) => {
          const req = https.get({ hostname: host, port, path: '/', ca, lookup, agent: false }, (res) => {
            let body = '';
            res.on('data', (c: Buffer) => (body += c.toString()));
            res.on('end', () => resolve({ host, ok: body === 'pai-ok', detail: `${res.statusCode} ${body}` }));
          });
          req.on('error', (err: NodeJS.ErrnoException) => resolve({ host, ok: false, detail: err.code ?? err.message }));
        }),
    ),
  );
};

const PRELOAD = `import dns from 'node:dns';
// The agent container's hosts file: every name resolves to the sidecar on 127.0.0.1.
dns.lookup = (host, options, cb) => {
  if (typeof options === 'function') { cb = options; options = {}; }
  return options && options.all ? cb(null, [{ address: '127.0.0.1', family: 4 }]) : cb(null, '127.0.0.1', 4);
};
`;

const FETCH = `const [port, hosts] = [Number(process.argv[2]), JSON.parse(process.argv[3])];
const out = [];
for (const host of hosts) {
  try {
    const res = await fetch('https://' + host + ':' + port + '/');
    const body = await res.text();
    out.push({ host, ok: body === 'pai-ok', detail: res.status + ' ' + body });
  } catch (err) {
    out.push({ host, ok: false, detail: String(err.cause?.code ?? err.cause ?? err) });
  }
}
console.log(JSON.stringify(out));
`;

/** Node's fetch in a child process that trusts the bundle through NODE_EXTRA_CA_CERTS (read at start). */
export function nodeFetch(workDir: string): Client {
  const preload = path.join(workDir, 'hosts-preload.mjs');
  const script = path.join(workDir, 'fetch.mjs');
  fs.writeFileSync(preload, PRELOAD);
  fs.writeFileSync(script, FETCH);
  return async (bundleFile, port, hosts) => {
    const { stdout, stderr } = await run(
      process.execPath,
      ['--import', pathToFileURL(preload).href, script, String(port), JSON.stringify(hosts)],
      { PATH: process.env['PATH'] ?? '', NODE_EXTRA_CA_CERTS: bundleFile },
    );
    if (stdout.trim() === '') throw new Error(`fetch child printed nothing: ${stderr}`);
    return JSON.parse(stdout) as Outcome[];
  };
}

/** curl with `--cacert` (only the bundle) and `--resolve` (the hosts file). Exit 60/51: certificate refused. */
export const curl: Client = async (bundleFile, port, hosts) =>
  Promise.all(
    hosts.map(async (host) => {
      const { code, stdout, stderr } = await run('curl', [
        '--silent',
        '--show-error',
        '--max-time',
        '10',
        '--cacert',
        bundleFile,
        '--resolve',
        `${host}:${port}:127.0.0.1`,
        `https://${host}:${port}/`,
      ]);
      return { host, ok: code === 0 && stdout === 'pai-ok', detail: `exit ${code} ${stderr.trim()}` };
    }),
  );

const PY = `import json, socket, ssl, sys
bundle, port, hosts = sys.argv[1], int(sys.argv[2]), json.loads(sys.argv[3])
ctx = ssl.create_default_context(cafile=bundle)  # with cafile, the default roots are not loaded
out = []
for host in hosts:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
            with ctx.wrap_socket(raw, server_hostname=host):
                out.append({"host": host, "ok": True, "detail": "connected"})
    except ssl.SSLCertVerificationError as e:
        out.append({"host": host, "ok": False, "detail": e.verify_message})
    except Exception as e:
        out.append({"host": host, "ok": False, "detail": type(e).__name__ + ": " + str(e)})
print(json.dumps(out))
`;

/** Python's ssl.create_default_context(cafile=bundle) with server_hostname = the host. */
export const python: Client = async (bundleFile, port, hosts) => {
  const { stdout, stderr } = await run(PYTHON, ['-c', PY, bundleFile, String(port), JSON.stringify(hosts)]);
  if (stdout.trim() === '') throw new Error(`python printed nothing: ${stderr}`);
  return JSON.parse(stdout) as Outcome[];
};
