/**
 * Unix socket paths of the admin API (`PAI_ADMIN_LISTEN=unix:PATH`) and the injector
 * (`PAI_INJECTOR_LISTEN`), issue 16 item 7: a server removes only a stale socket at its path. A
 * regular file there is left alone and the server refuses to start; a socket that answers a connect
 * belongs to a running server, which keeps its address, and the new one refuses to start. Both
 * servers, one table.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import test from 'ava';
import { ConfigError, loadConfig } from '../src/config.js';
import { silentLogger } from '../src/log.js';
import { type ServeRole, startServer } from '../src/main.js';
import { tempDir } from './helpers/process.js';

interface Server {
  readonly variable: 'PAI_ADMIN_LISTEN' | 'PAI_INJECTOR_LISTEN';
  readonly role: ServeRole;
}

const SERVERS: readonly Server[] = [
  { variable: 'PAI_ADMIN_LISTEN', role: 'admin' },
  { variable: 'PAI_INJECTOR_LISTEN', role: 'injector' },
];

/** Starts the server of `s` in this process with its socket at `socket`; resolves with a closer. */
async function start(s: Server, dir: string, socket: string): Promise<() => Promise<void>> {
  const env: Record<string, string> = { HOME: dir, PAI_DATA_DIR: path.join(dir, 'data'), [s.variable]: `unix:${socket}` };
  if (s.role === 'injector') env['PAI_ADMIN_LISTEN'] = '127.0.0.1:0';
  const running = await startServer(loadConfig(env), { role: s.role, logger: silentLogger() });
  return () => running.close();
}

/** A listening unix socket server in this process (something "else" that owns the path). */
function liveSocket(file: string): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const server = net.createServer((c) => {
      // The probe hangs up at once: a reset is expected.
      c.on('error', () => undefined);
      c.end('still mine\n');
    });
    server.once('error', reject);
    server.listen(file, () => resolve(server));
  });
}

/** Whether a connect to `file` gets the live server's greeting. */
function answers(file: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = '';
    const c = net.connect(file);
    c.on('data', (d: Buffer) => (text += d.toString('utf8')));
    c.on('end', () => resolve(text));
    c.on('error', reject);
  });
}

/** A socket file nobody listens on any more: a child binds it and is killed with SIGKILL. */
async function staleSocket(file: string): Promise<void> {
  const script = `require('net').createServer().listen(${JSON.stringify(file)}, () => console.log('up'))`;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGKILL');
  await exited;
  if (!fs.lstatSync(file).isSocket()) throw new Error('setup: no stale socket left behind');
}

for (const s of SERVERS) {
  test(`${s.variable}: a regular file at the path is left alone and the server refuses to start`, async (t) => {
    const dir = tempDir('pai-sock-');
    t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
    const file = path.join(dir, 'precious.txt');
    fs.writeFileSync(file, 'not a socket\n');
    const err = await t.throwsAsync(start(s, dir, file), { instanceOf: ConfigError });
    t.is(err?.variable, s.variable);
    t.regex(err?.message ?? '', /precious\.txt exists and is not a socket; refusing to replace it/);
    t.is(fs.readFileSync(file, 'utf8'), 'not a socket\n', 'the file is untouched');
  });

  test(`${s.variable}: a live socket means another server: refuse to start, and it keeps its address`, async (t) => {
    const dir = tempDir('pai-sock-');
    const file = path.join(dir, 'busy.sock');
    const other = await liveSocket(file);
    t.teardown(() => {
      other.close();
      fs.rmSync(dir, { recursive: true, force: true });
    });
    const err = await t.throwsAsync(start(s, dir, file), { instanceOf: ConfigError });
    t.is(err?.variable, s.variable);
    t.regex(err?.message ?? '', /another server is listening on .*busy\.sock; refusing to start over it/);
    t.is(await answers(file), 'still mine\n', 'the other server still answers on its path');
  });

  test(`${s.variable}: a stale socket (its server was killed) is replaced, and removed again at close`, async (t) => {
    const dir = tempDir('pai-sock-');
    t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
    const file = path.join(dir, 'stale.sock');
    await staleSocket(file);
    const close = await start(s, dir, file);
    t.true(fs.lstatSync(file).isSocket());
    t.is(fs.statSync(file).mode & 0o777, 0o600);
    await close();
    t.false(fs.existsSync(file));
  });
}
