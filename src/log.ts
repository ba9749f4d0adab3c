/**
 * Logging: JSON lines to stderr, one per event, written synchronously (a line is on its way
 * before the call returns, so nothing is lost on exit). Values are never passed to the logger in
 * the first place; censoring every field named like a credential, at any depth, is the second
 * line of defence.
 *
 * The line is pino's shape, which operators' tooling already reads:
 *   {"level":"info","time":"2026-12-06T05:00:00.000Z","service":"pai",...fields,"msg":"..."}
 * Written here rather than by pino: pino's redaction, transports and worker thread cost an
 * injector ~1 MiB of heap per agent pod (docs/PERFORMANCE.md) for features pai does not use.
 */
import type { LogLevel } from './config.js';

/** Numeric levels, as pino numbers them. */
const LEVELS: Readonly<Record<LogLevel, number>> = {
  trace: 10,
  debug: 20,
  info: 30,
  warn: 40,
  error: 50,
  fatal: 60,
  silent: Infinity,
};

type Emitting = Exclude<LogLevel, 'silent'>;
const EMITTING: readonly Emitting[] = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'];

/** A log method: fields then message, or a message alone. */
export interface LogFn {
  (fields: object, msg?: string): void;
  (msg: string): void;
}

export interface Logger {
  readonly level: LogLevel;
  isLevelEnabled(level: LogLevel): boolean;
  readonly trace: LogFn;
  readonly debug: LogFn;
  readonly info: LogFn;
  readonly warn: LogFn;
  readonly error: LogFn;
  readonly fatal: LogFn;
  /** Lines are written synchronously; kept for callers that flush before exiting. */
  flush(): void;
}

/** Field names whose values are replaced by CENSOR wherever they appear. */
const SENSITIVE: ReadonlySet<string> = new Set([
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
]);

export const CENSOR = 'REDACTED';

/** JSON.stringify's replacer: censors sensitive names at any depth, writes bigints as strings. */
function replacer(this: unknown, key: string, value: unknown): unknown {
  if (key !== '' && SENSITIVE.has(key)) return CENSOR;
  return typeof value === 'bigint' ? value.toString() : value;
}

/** The JSON text of `fields` without its braces ('' for none); never throws. */
function fieldsText(fields: object): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(fields, replacer);
  } catch {
    // A cycle, or a toJSON that throws: the event is still logged, without its fields.
    return '"logFieldsError":"the fields could not be written as JSON"';
  }
  return text === undefined || text.length <= 2 || text[0] !== '{' ? '' : text.slice(1, -1);
}

/** The line of one event. */
export function logLine(level: Emitting, time: string, fields: object | undefined, msg: string | undefined): string {
  const body = fields === undefined ? '' : fieldsText(fields);
  const message = msg === undefined ? '' : `,"msg":${JSON.stringify(msg)}`;
  return `{"level":"${level}","time":"${time}","service":"pai"${body === '' ? '' : `,${body}`}${message}}\n`;
}

/** Creates the process logger writing JSON lines to `destination` (stderr by default). */
export function createLogger(level: LogLevel, destination: NodeJS.WritableStream = process.stderr): Logger {
  const threshold = LEVELS[level];
  const method = (name: Emitting): LogFn => {
    if (LEVELS[name] < threshold) return () => undefined;
    return (first: object | string, msg?: string) => {
      const line =
        typeof first === 'string'
          ? logLine(name, new Date().toISOString(), undefined, first)
          : logLine(name, new Date().toISOString(), first, msg);
      destination.write(line);
    };
  };
  const methods = Object.fromEntries(EMITTING.map((name) => [name, method(name)])) as Record<Emitting, LogFn>;
  return {
    level,
    isLevelEnabled: (l) => LEVELS[l] >= threshold && l !== 'silent',
    ...methods,
    flush: () => undefined,
  };
}

/** A logger that drops everything (tests, CLI). */
export function silentLogger(): Logger {
  return createLogger('silent');
}
