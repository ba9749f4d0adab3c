/**
 * `pai serve [--role all|admin|injector|webhook]`: runs the servers until SIGINT or SIGTERM.
 */
import { loadConfig } from '../config.js';
import { createLogger } from '../log.js';
import { adminUrl, startServer } from '../main.js';
import { CliError } from './cli-error.js';
import type { CliIo } from './io.js';
import { SERVE_ROLES, isServeRole } from './serve-roles.js';

/**
 * Node flags `pai serve` should run under, set by bin/pai.js's sh exec line (V8 flags cannot come from
 * NODE_OPTIONS or be set once the heap exists). Without --no-memory-reducer, the first idle spell
 * lets V8's memory reducer shrink the heap, after which incremental marking runs almost
 * continuously under load and each Check costs ~1.5x the CPU (bench/injector.ts).
 */
export const SERVE_NODE_FLAGS: readonly string[] = ['--no-memory-reducer'];

/** Starts `pai serve` and resolves with the exit code once a signal stopped it. */
export async function serve(roleText: string, io: CliIo): Promise<number> {
  if (!isServeRole(roleText)) {
    throw new CliError(`unknown role "${roleText}" (expected ${SERVE_ROLES.join(', ')})`, 2);
  }
  const role = roleText;
  const config = loadConfig(io.env);
  // Everything this process creates (database, keys, sockets, audit log) is private to its user.
  process.umask(0o077);
  const logger = createLogger(config.logLevel);
  const missingFlags = SERVE_NODE_FLAGS.filter((flag) => !process.execArgv.includes(flag));
  if (missingFlags.length > 0) {
    logger.warn(
      { missingFlags },
      'node was started without the flags pai serve expects; after an idle spell each request costs up to ~1.5x the CPU (run bin/pai.js, or node --no-memory-reducer bin/pai.js serve)',
    );
  }
  const running = await startServer(config, { role, logger });
  const lines = [`pai serve: role ${role}, ${config.store} store, data in ${config.dataDir}`];
  if (running.adminAddress) lines.push(`  admin API:  ${adminUrl(running.adminAddress, config.adminTls !== undefined)}`);
  if (running.injectorAddress) lines.push(`  injector:   ${running.injectorAddress}`);
  if (running.webhookAddress) lines.push(`  webhook:    https://${running.webhookAddress}/mutate`);
  if (running.bootstrapToken)
    lines.push(`  created the first admin token (role owner); the pai CLI reads it from ${config.configFile}`);
  lines.push('ready');
  // Listening for the stop signals before saying `ready`: a supervisor may send one at once.
  const stopped = new Promise<void>((resolve) => {
    const stop = (): void => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  io.stdout(lines.join('\n') + '\n');
  await stopped;
  await running.close();
  logger.flush();
  return 0;
}
