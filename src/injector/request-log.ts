/**
 * The request log (audit.logRequests, PAI.md): one JSON line per request through a Provider or
 * ModelProvider: agent, namespace, target, method, host, path without its query, action, resource,
 * decision and reason. Never a value: the path is the agent's own (credentials go in headers, or
 * into a path the agent never sees), and the query, where agents put data, is left out.
 *
 * Off the request path: records are buffered and appended in batches (every `flushMs`, or when
 * `batch` are waiting); the buffer is bounded and what overflows is counted, not kept. The file is
 * rotated to `<file>.1` when it passes `maxBytes`. Its mode is 0600.
 */
import fs from 'node:fs';
import type { Logger } from '../log.js';

export interface RequestRecord {
  readonly time: string;
  readonly agent: string;
  readonly namespace: string;
  readonly kind: 'Provider' | 'ModelProvider';
  readonly provider: string;
  readonly type: string;
  readonly method: string;
  readonly host: string;
  readonly path: string;
  readonly action?: string;
  readonly resource?: string;
  readonly decision: 'allow' | 'deny' | 'audit-deny';
  readonly reason: string;
}

/** The fields of a record that are the same for every request of one agent through one target. */
export type RecordHead = Pick<RequestRecord, 'agent' | 'namespace' | 'kind' | 'provider' | 'type'>;
/** The fields that change per request (an undefined action or resource is left out of the line). */
export type RecordTail = Omit<RequestRecord, keyof RecordHead | 'time' | 'action' | 'resource'> & {
  readonly action?: string | undefined;
  readonly resource?: string | undefined;
};

/** The JSON text of a record's head fields, with the comma that follows them (kept per agent and target). */
export function recordHead(r: RecordHead): string {
  return `"agent":${JSON.stringify(r.agent)},"namespace":${JSON.stringify(r.namespace)},"kind":${JSON.stringify(r.kind)},"provider":${JSON.stringify(r.provider)},"type":${JSON.stringify(r.type)},`;
}

/**
 * A record's JSON line, `head` being recordHead of its head fields: the same text as
 * `JSON.stringify(record)` plus a newline (same fields, same order), without building the record
 * object first (on the request path, once per request).
 */
export function recordLine(time: string, head: string, r: RecordTail): string {
  let line = `{"time":${JSON.stringify(time)},${head}"method":${JSON.stringify(r.method)},"host":${JSON.stringify(r.host)},"path":${JSON.stringify(r.path)}`;
  if (r.action !== undefined) line += `,"action":${JSON.stringify(r.action)}`;
  if (r.resource !== undefined) line += `,"resource":${JSON.stringify(r.resource)}`;
  return `${line},"decision":${JSON.stringify(r.decision)},"reason":${JSON.stringify(r.reason)}}\n`;
}

export interface RequestLogOptions {
  /** The file (JSON lines), or undefined for no request log. */
  readonly file: string | undefined;
  readonly maxBytes: number;
  readonly flushMs?: number;
  readonly batch?: number;
  /** Records kept while the disk is slow; beyond, records are dropped and counted. */
  readonly maxBuffered?: number;
  readonly logger?: Logger;
  readonly onDrop?: (count: number) => void;
}

export class RequestLog {
  private buffer: string[] = [];
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();
  private size: number | undefined;
  private failedOnce = false;

  constructor(private readonly options: RequestLogOptions) {}

  /** Whether records are kept (there is a file). */
  get enabled(): boolean {
    return this.options.file !== undefined;
  }

  /** Queues one record (a no-op without a file). */
  write(record: RequestRecord): void {
    if (this.options.file !== undefined) this.writeLine(`${JSON.stringify(record)}\n`);
  }

  /** Queues one record's JSON line (recordLine), newline included (a no-op without a file). */
  writeLine(line: string): void {
    if (this.options.file === undefined) return;
    if (this.buffer.length >= (this.options.maxBuffered ?? 10_000)) {
      this.options.onDrop?.(1);
      return;
    }
    this.buffer.push(line);
    if (this.buffer.length >= (this.options.batch ?? 500)) void this.flush();
    else if (this.timer === undefined) {
      this.timer = setTimeout(() => void this.flush(), this.options.flushMs ?? 1000);
      this.timer.unref();
    }
  }

  /** Appends what is buffered; resolves when it is on disk (or counted as dropped). */
  flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    const lines = this.buffer;
    this.buffer = [];
    if (lines.length === 0 || this.options.file === undefined) return this.writing;
    const file = this.options.file;
    this.writing = this.writing.then(() => this.append(file, lines.join(''), lines.length));
    return this.writing;
  }

  private async append(file: string, text: string, count: number): Promise<void> {
    try {
      const bytes = Buffer.byteLength(text);
      this.size ??= await fs.promises.stat(file).then(
        (s) => s.size,
        () => 0,
      );
      if (this.size > 0 && this.size + bytes > this.options.maxBytes) {
        await fs.promises.rename(file, `${file}.1`);
        this.size = 0;
      }
      await fs.promises.appendFile(file, text, { mode: 0o600 });
      this.size += bytes;
    } catch (err) {
      this.size = undefined;
      this.options.onDrop?.(count);
      if (!this.failedOnce) {
        this.failedOnce = true;
        this.options.logger?.error(
          { code: (err as NodeJS.ErrnoException).code },
          'the request log cannot be written; records are dropped',
        );
      }
    }
  }

  /** Flushes and stops. */
  async close(): Promise<void> {
    await this.flush();
  }
}
