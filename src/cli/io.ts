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
  /** Which standard streams are terminals (absent: none is). */
  readonly terminal?: { readonly stdin: boolean; readonly stdout: boolean; readonly stderr: boolean };
  /**
   * Asks for values on the terminal without echo, one prompt after another (only called when
   * stdin is a terminal); throws CliError when the user gives up (Ctrl-C, Ctrl-D).
   */
  readonly promptHidden?: (prompts: readonly string[]) => Promise<string[]>;
}

/** Reads a stream to the end. */
export async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  return Buffer.concat(chunks);
}
