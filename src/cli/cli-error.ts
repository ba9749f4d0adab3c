/**
 * The error the CLI reports (its own module: `pai serve` and the command table import it without
 * the admin client and its dependencies).
 */

/** An error the CLI prints to stderr; exit code 1 (failure) or 2 (usage). */
export class CliError extends Error {
  override readonly name = 'CliError';
  constructor(
    message: string,
    readonly exitCode: 1 | 2 = 1,
    readonly apiCode?: string,
    readonly details?: Readonly<Record<string, unknown>>,
  ) {
    super(message);
  }
}
