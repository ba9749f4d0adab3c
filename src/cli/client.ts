/**
 * The CLI's HTTP client for the admin API (TCP or unix socket). API errors become CliErrors
 * carrying the server's message; transport errors say which server could not be reached.
 */
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import YAML from 'yaml';
import type { ClientConfig } from '../config.js';

import { CliError } from './cli-error.js';

export { CliError } from './cli-error.js';

/** The CliError for a non-2xx answer: the server's message and code (`{"error": {...}}`). */
function apiError(res: ApiResponse): CliError {
  const err = (res.body as { error?: { code?: unknown; message?: unknown } } | undefined)?.error;
  const message = typeof err?.message === 'string' ? err.message : `the server answered ${res.status}`;
  return new CliError(message, 1, typeof err?.code === 'string' ? err.code : undefined, err);
}

export interface ApiResponse<T = unknown> {
  readonly status: number;
  readonly body: T;
  readonly text: string;
  readonly contentType: string;
}

/** The namespace a command acts in, and whether the user named it (-n) rather than taking the default. */
export interface CommandNamespace {
  readonly name: string;
  readonly explicit: boolean;
}

/** TLS options of an https:// server: the CA to trust (PAI_CA_FILE) and a client certificate. */
interface ClientTls {
  readonly ca?: Buffer;
  readonly cert?: Buffer;
  readonly key?: Buffer;
}

function readClientFile(variable: string, file: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new CliError(`${variable}: cannot read ${file} (${code === 'ENOENT' ? 'no such file' : code})`);
  }
}

function clientTls(config: ClientConfig): ClientTls {
  return {
    ...(config.caFile ? { ca: readClientFile('PAI_CA_FILE', config.caFile) } : {}),
    ...(config.clientCertFile ? { cert: readClientFile('PAI_CLIENT_CERT', config.clientCertFile) } : {}),
    ...(config.clientKeyFile ? { key: readClientFile('PAI_CLIENT_KEY', config.clientKeyFile) } : {}),
  };
}

// TLS failures worth a sentence of their own (Node's codes), so that the fix is obvious.
const TLS_HINTS: Readonly<Record<string, string>> = {
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'the server certificate is not trusted (set PAI_CA_FILE to its CA)',
  SELF_SIGNED_CERT_IN_CHAIN: 'the server certificate is not trusted (set PAI_CA_FILE to its CA)',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'the server certificate is self-signed and not trusted (set PAI_CA_FILE to it)',
  ERR_TLS_CERT_ALTNAME_INVALID: 'the server certificate does not name this host (use the name it was issued for in PAI_SERVER)',
  ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED: 'the server requires a client certificate (set PAI_CLIENT_CERT and PAI_CLIENT_KEY)',
  EPROTO: 'the TLS handshake failed (is it an https:// server, and does it require a client certificate?)',
};

export class AdminClient {
  /** The namespace commands act in (-n, else PAI_NAMESPACE, else default). */
  namespace: CommandNamespace = { name: 'default', explicit: false };

  private constructor(
    private readonly target: { socketPath: string } | { host: string; port: number; base: string; tls: ClientTls | undefined },
    private readonly token: string,
    readonly server: string,
  ) {}

  /** The API path of `rest` (e.g. `secrets/x`) in `ns` (default: this client's namespace). */
  nsPath(rest: string, ns: string = this.namespace.name): string {
    return `/v1/namespaces/${encodeURIComponent(ns)}/${rest}`;
  }

  /** Resolves server and token from PAI_SERVER / PAI_TOKEN, then the config file `pai serve` wrote. */
  static fromConfig(config: ClientConfig): AdminClient {
    let fileServer: string | undefined;
    let fileToken: string | undefined;
    if (!config.server || !config.token) {
      try {
        const parsed = YAML.parse(fs.readFileSync(config.configFile, 'utf8')) as { server?: unknown; token?: unknown } | null;
        if (typeof parsed?.server === 'string') fileServer = parsed.server;
        if (typeof parsed?.token === 'string') fileToken = parsed.token;
      } catch {
        // A missing or unreadable file is reported below as "no server configured".
      }
    }
    const server = config.server ?? fileServer;
    const token = config.token ?? fileToken;
    if (!server || !token) {
      throw new CliError(
        `no ${server ? 'token' : 'server'} configured: start \`pai serve\` on this machine (it writes ${config.configFile}), ` +
          'or set PAI_SERVER and PAI_TOKEN',
      );
    }
    if (server.startsWith('unix:')) return new AdminClient({ socketPath: server.slice(5) }, token, server);
    let url: URL;
    try {
      url = new URL(server);
    } catch {
      throw new CliError(`PAI_SERVER is not a URL: ${JSON.stringify(server)}`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new CliError(`unsupported server URL scheme ${url.protocol} (use https://, http:// or unix:/path)`);
    }
    const secure = url.protocol === 'https:';
    return new AdminClient(
      {
        host: url.hostname.replace(/^\[|\]$/g, ''),
        port: Number(url.port || (secure ? 443 : 80)),
        base: url.pathname.replace(/\/$/, ''),
        tls: secure ? clientTls(config) : undefined,
      },
      token,
      server,
    );
  }

  /** Sends a request; returns the parsed response for 2xx, throws CliError otherwise. */
  async request<T = unknown>(method: string, path: string, body?: unknown): Promise<ApiResponse<T>> {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body), 'utf8');
    const res = await this.send(method, path, payload);
    if (res.status >= 200 && res.status < 300) return res as ApiResponse<T>;
    throw apiError(res);
  }

  /** Like request, but returns the body's raw bytes (values must not pass through a text decoder). */
  async requestRaw(method: string, path: string): Promise<Buffer> {
    const res = await this.send(method, path, undefined);
    if (res.status >= 200 && res.status < 300) return res.raw;
    throw apiError(res);
  }

  private send(method: string, path: string, payload: Buffer | undefined): Promise<ApiResponse & { raw: Buffer }> {
    const headers: http.OutgoingHttpHeaders = { authorization: `Bearer ${this.token}`, accept: 'application/json' };
    if (payload) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = payload.length;
    }
    const common = { method, headers, timeout: 30_000 };
    const target = this.target;
    return new Promise((resolve, reject) => {
      const onResponse = (res: http.IncomingMessage): void => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const raw = Buffer.concat(chunks);
          const text = raw.toString('utf8');
          const contentType = res.headers['content-type'] ?? '';
          let parsed: unknown = undefined;
          if (contentType.startsWith('application/json')) {
            try {
              parsed = JSON.parse(text);
            } catch {
              parsed = undefined;
            }
          }
          resolve({ status: res.statusCode ?? 0, body: parsed, text, contentType, raw });
        });
      };
      let req: http.ClientRequest;
      if ('socketPath' in target) req = http.request({ ...common, socketPath: target.socketPath, path }, onResponse);
      else {
        const where = { ...common, host: target.host, port: target.port, path: target.base + path };
        req = target.tls ? https.request({ ...where, ...target.tls }, onResponse) : http.request(where, onResponse);
      }
      req.on('timeout', () => req.destroy(new Error('timed out')));
      req.on('error', (e: NodeJS.ErrnoException) => {
        const code = e.code ?? '';
        const why =
          code === 'ECONNREFUSED' || code === 'ENOENT'
            ? 'connection refused (is `pai serve` running?)'
            : (TLS_HINTS[code] ?? (code || e.message));
        reject(new CliError(`cannot reach the pai admin API at ${this.server}: ${why}`));
      });
      req.end(payload);
    });
  }
}
