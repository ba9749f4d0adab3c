/**
 * Logging: JSON lines (pino) to stderr. Values are never passed to the logger in the first place;
 * the redact list is the second line of defence for every header and field name that could hold
 * a credential, at any depth we log.
 */
import { pino, type Logger } from 'pino';
import type { LogLevel } from './config.js';

export type { Logger } from 'pino';

const SENSITIVE = [
  'authorization',
  'proxy-authorization',
  'x-api-key',
  'x-goog-api-key',
  'api-key',
  'cookie',
  'set-cookie',
  'x-amz-security-token',
  'token',
  'value',
  'values',
  'data',
  'binaryData',
  'secret',
  'password',
  'client_secret',
  'private_key',
];

/** Redact paths for pino: each sensitive name at the top level and up to two levels down. */
export function redactPaths(): string[] {
  const paths: string[] = [];
  for (const name of SENSITIVE) {
    const key = /^[a-zA-Z_$][\w$]*$/.test(name) ? name : `["${name}"]`;
    const join = (prefix: string): string => (key.startsWith('[') ? `${prefix}${key}` : `${prefix}.${key}`);
    paths.push(key.startsWith('[') ? key.slice(2, -2) : key, join('*'), join('*.*'));
  }
  return paths;
}

/** Creates the process logger writing JSON lines to `destination` (stderr by default). */
export function createLogger(level: LogLevel, destination: NodeJS.WritableStream = process.stderr): Logger {
  return pino(
    {
      level,
      base: { service: 'pai' },
      redact: { paths: redactPaths(), censor: 'REDACTED' },
      formatters: { level: (label) => ({ level: label }) },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination,
  );
}

/** A logger that drops everything (tests, CLI). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
