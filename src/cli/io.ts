/**
 * The CLI's access to the outside world, passed to every command so that tests can run commands
 * in-process with captured output.
 */
import type { ClientConfig } from '../config.js';

export interface CliIo {
  readonly stdout: (text: string) => void;
  /** Writes bytes unchanged (rendered env values may be any bytes). */
  readonly stdoutBytes: (data: Buffer) => void;
  readonly stderr: (text: string) => void;
  /** Reads all of standard input (for `-` arguments). */
  readonly readStdin: () => Promise<Buffer>;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly clientConfig: () => ClientConfig;
  readonly now: () => Date;
  /** True when stderr is a terminal (a person is watching): warnings meant for people are shown then. */
  readonly isTerminal?: () => boolean;
}

/** Reads a stream to the end. */
export async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks);
}
