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

  /** Queues one record (a no-op without a file). */
  write(record: RequestRecord): void {
    if (this.options.file === undefined) return;
    if (this.buffer.length >= (this.options.maxBuffered ?? 10_000)) {
      this.options.onDrop?.(1);
      return;
    }
    this.buffer.push(`${JSON.stringify(record)}\n`);
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
