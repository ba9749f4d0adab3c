/**
 * The admin API's TLS material (PAI_ADMIN_TLS_*): read once at start, checked by building a secure
 * context, so that a missing file or a key that does not match its certificate stops `pai serve`
 * with the variable's name rather than failing the first handshake.
 */
import fs from 'node:fs';
import tls from 'node:tls';
import { type AdminTlsConfig, ConfigError } from '../config.js';

/** What https.createServer needs: PEM bytes, and the client CA when client certificates are required. */
export interface AdminTlsOptions {
  readonly cert: Buffer;
  readonly key: Buffer;
  readonly ca: Buffer | undefined;
}

function readPem(variable: string, file: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? 'error';
    throw new ConfigError(variable, `cannot read ${file} (${code === 'ENOENT' ? 'no such file' : code})`);
  }
}

/** Reads and checks the files of `config`. Throws ConfigError naming the variable at fault. */
export function loadAdminTls(config: AdminTlsConfig): AdminTlsOptions {
  const cert = readPem('PAI_ADMIN_TLS_CERT', config.certFile);
  const key = readPem('PAI_ADMIN_TLS_KEY', config.keyFile);
  const ca = config.clientCaFile === undefined ? undefined : readPem('PAI_ADMIN_TLS_CLIENT_CA', config.clientCaFile);
  try {
    tls.createSecureContext({ cert, key });
  } catch {
    // OpenSSL's message may quote the file; ours names the variables only.
    throw new ConfigError('PAI_ADMIN_TLS_KEY', 'the key and certificate are not a matching PEM pair (PAI_ADMIN_TLS_CERT)');
  }
  if (ca) {
    try {
      tls.createSecureContext({ ca });
    } catch {
      throw new ConfigError('PAI_ADMIN_TLS_CLIENT_CA', `${config.clientCaFile ?? ''} is not a PEM CA certificate`);
    }
  }
  return { cert, key, ca };
}
