/**
 * Asking for a value on the terminal without echoing it (`pai add secret --from-literal KEY`).
 * Node's readline does the line editing (backspace, arrows) in raw mode; its output goes to a sink
 * that swallows everything, so neither the typed characters nor readline's redraws reach the
 * screen; only the prompt and a final newline are written, to `output` (stderr). No history is kept.
 */
import readline from 'node:readline';
import { Writable } from 'node:stream';
import { CliError } from './client.js';

/** Asks one question after another on the same terminal; `close` when done. */
export interface HiddenPrompter {
  /** The line typed after `prompt` (without its newline). Throws CliError on Ctrl-C or Ctrl-D. */
  ask(prompt: string): Promise<string>;
  close(): void;
}

/** A prompter reading `input` (a terminal) and writing prompts to `output`. */
export function hiddenPrompter(input: NodeJS.ReadableStream, output: NodeJS.WritableStream): HiddenPrompter {
  const mute = new Writable({ write: (_chunk, _encoding, done) => done() });
  // One interface for every question: a value typed ahead is not lost between two of them.
  const rl = readline.createInterface({ input, output: mute, terminal: true, historySize: 0 });
  const lines: string[] = [];
  let waiting: { resolve: (line: string) => void; reject: (err: CliError) => void } | undefined;
  let ended: CliError | undefined;
  const fail = (err: CliError): void => {
    ended ??= err;
    waiting?.reject(err);
    waiting = undefined;
  };
  rl.on('line', (line: string) => {
    if (waiting) {
      waiting.resolve(line);
      waiting = undefined;
    } else lines.push(line);
  });
  rl.on('SIGINT', () => {
    output.write('\n');
    fail(new CliError('cancelled: no secret was written'));
    rl.close();
  });
  rl.on('close', () => fail(new CliError('standard input ended before a value was entered (Ctrl-D); no secret was written')));
  return {
    ask(prompt: string): Promise<string> {
      output.write(prompt);
      const queued = lines.shift();
      const answer =
        queued !== undefined
          ? Promise.resolve(queued)
          : ended
            ? Promise.reject(ended)
            : new Promise<string>((resolve, reject) => (waiting = { resolve, reject }));
      return answer.then((line) => {
        output.write('\n');
        return line;
      });
    },
    close(): void {
      rl.close();
    },
  };
}
