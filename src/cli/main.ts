/**
 * The `pai` command line (kubectl conventions): exit 0 ok, 1 failure, 2 usage error. Errors go to
 * stderr; nothing the CLI prints holds a secret value (only `pai render env` prints values, on
 * purpose, to stdout).
 *
 * Each command's module is imported when the command runs, not here, and `pai serve [--role R]`
 * (in every agent pod) is run without the command tree (program.ts, commander): the server then
 * carries none of the other commands' code, nor commander or yaml (docs/PERFORMANCE.md).
 */
import { ConfigError, loadClientConfig } from '../config.js';
import { PaiError } from '../errors.js';
import { CliError } from './cli-error.js';
import { type CliIo, readAll } from './io.js';
import { isServeRole } from './serve-roles.js';

/**
 * The role of a plain server command line: `serve`, `serve --role R` or `serve --role=R` with a
 * known role; undefined for anything else (help, other flags, a bad role), which the command tree
 * handles and explains.
 */
export function plainServeRole(argv: readonly string[]): string | undefined {
  if (argv[0] !== 'serve') return undefined;
  if (argv.length === 1) return 'all';
  let role: string | undefined;
  if (argv.length === 2 && argv[1]?.startsWith('--role=')) role = argv[1].slice('--role='.length);
  else if (argv.length === 3 && argv[1] === '--role') role = argv[2];
  return role !== undefined && isServeRole(role) ? role : undefined;
}

function errorMessage(err: unknown): { message: string; code: number } {
  if (err instanceof CliError) return { message: err.message, code: err.exitCode };
  if (err instanceof ConfigError) return { message: err.message, code: 1 };
  if (err instanceof PaiError) return { message: err.message, code: 1 };
  // Only the error's class and code: its message may come from a dependency and quote input.
  const e = err as { name?: unknown; code?: unknown };
  const name = typeof e.name === 'string' ? e.name : 'Error';
  const code = typeof e.code === 'string' ? ` ${e.code}` : '';
  return { message: `unexpected error (${name}${code})`, code: 1 };
}

/** Runs the CLI with `argv` (without node and script); resolves with the exit code. */
export async function main(argv: readonly string[], io: CliIo = processIo()): Promise<number> {
  let code = 0;
  const role = plainServeRole(argv);
  try {
    if (role !== undefined) {
      const { serve } = await import('./serve.js');
      return await serve(role, io);
    }
    const [{ buildProgram }, { CommanderError }] = await Promise.all([import('./program.js'), import('commander')]);
    try {
      await buildProgram(io, (c) => (code = c)).parseAsync([...argv], { from: 'user' });
      return code;
    } catch (err) {
      if (!(err instanceof CommanderError)) throw err;
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help') return 0;
      return err.exitCode === 0 ? 0 : 2;
    }
  } catch (err) {
    const { message, code: exit } = errorMessage(err);
    io.stderr(`error: ${message}\n`);
    return exit;
  }
}

/** Exit status of a process killed by SIGPIPE (128 + 13), what `pai … | head` gives, silently. */
const EXIT_BROKEN_PIPE = 141;

/**
 * A reader that goes away (`pai get secrets | head -1`) is not an error worth a stack trace: the
 * process ends quietly with the status a SIGPIPE would give. Any other stream error still throws.
 */
function quietOnBrokenPipe(stream: NodeJS.WriteStream): void {
  if (stream.listenerCount('error') > 0) return;
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
    process.exit(EXIT_BROKEN_PIPE);
  });
}

/** The real process's I/O. */
export function processIo(): CliIo {
  quietOnBrokenPipe(process.stdout);
  quietOnBrokenPipe(process.stderr);
  return {
    stdout: (t) => void process.stdout.write(t),
    stdoutBytes: (b) => void process.stdout.write(b),
    stderr: (t) => void process.stderr.write(t),
    readStdin: () => readAll(process.stdin),
    env: process.env,
    clientConfig: () => loadClientConfig(process.env),
    now: () => new Date(),
    isTerminal: () => process.stderr.isTTY,
    terminal: {
      stdin: process.stdin.isTTY === true,
      stdout: process.stdout.isTTY === true,
      stderr: process.stderr.isTTY === true,
    },
    promptHidden: async (prompts) => {
      const { hiddenPrompter } = await import('./prompt.js');
      const prompter = hiddenPrompter(process.stdin, process.stderr);
      try {
        const answers: string[] = [];
        for (const prompt of prompts) answers.push(await prompter.ask(prompt));
        return answers;
      } finally {
        prompter.close();
      }
    },
  };
}
