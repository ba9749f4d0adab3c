/**
 * The unix socket paths the servers listen on (admin API `PAI_ADMIN_LISTEN=unix:PATH`, injector
 * `PAI_INJECTOR_LISTEN`). A server may only ever remove a socket, never a file that happens to sit
 * at the path, and a socket that still answers a connect belongs to a running server: starting a
 * second one over it would take its address away silently. Both servers go through this module.
 */
import fs from 'node:fs';
import net from 'node:net';
import { ConfigError } from './config.js';

/** How long a connect to an existing socket may take before the socket counts as live. */
const PROBE_TIMEOUT_MS = 1000;

type Probe = 'live' | 'stale' | 'gone' | { readonly unknown: string };

/** Connects to the socket at `file` once: live (answered), stale (refused), gone, or unknown (another error). */
function probe(file: string): Promise<Probe> {
  return new Promise((resolve) => {
    const socket = net.connect(file);
    const done = (result: Probe): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    // A server too busy to accept within the timeout is still a server.
    const timer = setTimeout(() => done('live'), PROBE_TIMEOUT_MS);
    socket.once('connect', () => done('live'));
    socket.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNREFUSED') done('stale');
      else if (err.code === 'ENOENT') done('gone');
      else done({ unknown: err.code ?? 'error' });
    });
  });
}

/**
 * Makes `file` free for a new listening socket: nothing there, or a stale socket (nobody answers
 * a connect), which is removed. Throws ConfigError naming `variable` when the path holds anything
 * but a socket (left untouched), a socket that answers (another server is running), or a socket
 * whose state cannot be told (e.g. EACCES). A race with a server starting at the same instant is
 * not closed (the window is one connect long); the data directory is private to this user.
 */
export async function claimSocketPath(file: string, variable: string): Promise<void> {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw new ConfigError(variable, `cannot inspect ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  if (!st.isSocket()) {
    throw new ConfigError(
      variable,
      `${file} exists and is not a socket; refusing to replace it (move it away or pick another path)`,
    );
  }
  const state = await probe(file);
  if (state === 'live') {
    throw new ConfigError(
      variable,
      `another server is listening on ${file}; refusing to start over it (stop that server, or pick another path)`,
    );
  }
  if (typeof state === 'object') {
    throw new ConfigError(variable, `cannot tell whether the socket ${file} is in use (${state.unknown}); refusing to remove it`);
  }
  if (state === 'stale') removeSocket(file);
}

/** Removes `file` if it is a socket (a server's own, at shutdown); anything else, or nothing, is left as is. */
export function removeSocket(file: string): void {
  try {
    if (fs.lstatSync(file).isSocket()) fs.rmSync(file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}
