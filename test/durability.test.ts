/**
 * Crash safety with real processes and a real `kill -9`: a secret the API acknowledged survives
 * the server's death right after the response, and a master-key rotation killed at any moment
 * leaves a store that starts and reads every secret back.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import anyTest, { type ExecutionContext, type TestFn } from 'ava';
import Database from 'better-sqlite3';
import { verifyKeyCheck } from '../src/store/local/crypto.js';
import { readKeyFile } from '../src/store/local/files.js';
import { api } from './helpers/api.js';
import { type CliResult, type ServeHandle, adminToken, runPai, startServe, tempDir } from './helpers/process.js';
import { assertSecrets, type Expected, openLocal, seedSecrets } from './helpers/secrets.js';

interface Ctx {
  root: string;
  servers: ServeHandle[];
}

const test = anyTest as TestFn<Ctx>;

test.before((t) => {
  t.context = { root: tempDir('pai-durability-'), servers: [] };
});

test.after.always(async (t) => {
  for (const s of t.context.servers) await s.kill();
  if (t.context.root) fs.rmSync(t.context.root, { recursive: true, force: true });
});

async function serve(t: ExecutionContext<Ctx>, dataDir: string): Promise<ServeHandle> {
  const server = await startServe({ dataDir, env: { PAI_LOG_LEVEL: 'info' } });
  t.context.servers.push(server);
  return server;
}

function newDataDir(t: ExecutionContext<Ctx>, name: string): string {
  const dir = path.join(t.context.root, name);
  fs.mkdirSync(dir, { mode: 0o700 });
  return dir;
}

/**
 * Runs `fn` on a copy of the data dir's database files, so that opening it (which recovers and
 * checkpoints the WAL) leaves the crashed files as they are for the server's own restart.
 */
function onCopy<T>(dataDir: string, fn: (db: Database.Database) => T): T {
  const copy = fs.mkdtempSync(`${dataDir}-probe-`);
  try {
    for (const f of ['pai.db', 'pai.db-wal', 'pai.db-shm']) {
      if (fs.existsSync(path.join(dataDir, f))) fs.copyFileSync(path.join(dataDir, f), path.join(copy, f));
    }
    const db = new Database(path.join(copy, 'pai.db'));
    try {
      return fn(db);
    } finally {
      db.close();
    }
  } finally {
    fs.rmSync(copy, { recursive: true, force: true });
  }
}

/** `PRAGMA integrity_check` of the database as a fresh process would open it after a crash. */
function integrityCheck(dataDir: string): string {
  return onCopy(dataDir, (db) =>
    (db.pragma('integrity_check') as { integrity_check: string }[]).map((r) => r.integrity_check).join('; '),
  );
}

// ---- acknowledged writes --------------------------------------------------------------------

const ROUNDS = 3;
const IN_FLIGHT = 16;

test.serial('secrets acknowledged by the API survive kill -9 right after the last response', async (t) => {
  const dataDir = newDataDir(t, 'acked');
  const acked: Expected = new Map();
  const attempted: Expected = new Map();
  // A second writer replaces one secret sequentially: the value acknowledged last must survive.
  let counterAcked = 0;
  let counterSent = 0;

  for (let round = 0; round < ROUNDS; round++) {
    const server = await serve(t, dataDir);
    const token = adminToken(dataDir);
    const post = (p: string, body: unknown, method = 'POST') => api(server.adminUrl, token, method, p, body);
    if (round === 0) t.is((await post('/v1/secrets', { name: 'counter', data: { n: '0' } })).status, 201);

    const target = 150 + round * 75;
    let ackedThisRound = 0;
    let killed = false;
    let seq = 0;
    const onAck = (): void => {
      if (++ackedThisRound >= target && !killed) {
        killed = true;
        server.child.kill('SIGKILL');
      }
    };
    const creator = async (): Promise<void> => {
      while (!killed) {
        const name = `r${round}-s${seq++}`;
        const data = new Map([['v', randomBytes(24)]]);
        attempted.set(name, data);
        const res = await post('/v1/secrets', { name, binaryData: { v: data.get('v')?.toString('base64') } }).catch(
          () => undefined,
        );
        if (res === undefined) return; // the connection died with the server
        if (res.status !== 201) throw new Error(`create ${name} answered ${res.status}: ${res.text}`);
        acked.set(name, data);
        onAck();
      }
    };
    const replacer = async (): Promise<void> => {
      while (!killed) {
        const n = ++counterSent;
        const res = await post('/v1/secrets/counter', { data: { n: String(n) } }, 'PUT').catch(() => undefined);
        if (res === undefined) return;
        if (res.status !== 200) throw new Error(`replace counter answered ${res.status}: ${res.text}`);
        counterAcked = n;
        onAck();
      }
    };
    await Promise.all([...Array.from({ length: IN_FLIGHT - 1 }, creator), replacer()]);
    await server.kill();
    t.is(server.child.signalCode, 'SIGKILL');
    t.is(integrityCheck(dataDir), 'ok', `the database opens cleanly after the kill in round ${round}`);
  }

  const server = await serve(t, dataDir);
  const list = await api(server.adminUrl, adminToken(dataDir), 'GET', '/v1/secrets');
  const names = new Set((list.json.items as { name: string }[]).map((i) => i.name));
  const missing = [...acked.keys()].filter((n) => !names.has(n));
  t.deepEqual(missing, [], `all ${acked.size} acknowledged secrets are listed after restart`);
  await server.stop();

  const store = openLocal(dataDir);
  try {
    await assertSecrets(t, store, acked, false);
    // A write that was in flight at the kill is either wholly there or wholly absent.
    const present = new Set((await store.listSecrets('default')).map((m) => m.name));
    const inFlight = new Map([...attempted].filter(([n]) => !acked.has(n) && present.has(n)));
    await assertSecrets(t, store, inFlight, false);
    const n = Number((await store.readSecret('default', 'counter')).data.get('n')?.toString());
    t.true(n >= counterAcked && n <= counterSent, `counter ${n} is the last acknowledged (${counterAcked}) or the one in flight`);
    t.log(`${acked.size} acknowledged creates, ${inFlight.size} unacknowledged ones that landed, counter ${n}/${counterAcked}`);
  } finally {
    await store.close();
  }
});

// ---- master-key rotation under kill -9 -------------------------------------------------------

const ROTATION_SECRETS = 2500;
const KILLS = 8;

type RotationState = 'not started' | 'staged, not committed' | 'committed, not promoted' | 'finished';

/** Which phase a killed rotation reached, read from the key files and the database's key check. */
function rotationState(dataDir: string, keyBefore: Buffer): RotationState {
  const keyFile = path.join(dataDir, 'master.key');
  const check = onCopy(dataDir, (db) => (db.prepare(`SELECT v FROM meta WHERE k = 'key_check'`).get() as { v: Buffer }).v);
  const current = readKeyFile(keyFile);
  if (!fs.existsSync(`${keyFile}.next`)) return current.equals(keyBefore) ? 'not started' : 'finished';
  return verifyKeyCheck(readKeyFile(`${keyFile}.next`), check) ? 'committed, not promoted' : 'staged, not committed';
}

/** Resolves with the time the rotation staged its next key, and the time it promoted it. */
function watchRotation(dataDir: string): { staged: Promise<number>; promoted: Promise<number>; close: () => void } {
  let onStaged: (t: number) => void = () => undefined;
  let onPromoted: (t: number) => void = () => undefined;
  const staged = new Promise<number>((resolve) => (onStaged = resolve));
  const promoted = new Promise<number>((resolve) => (onPromoted = resolve));
  let seenStaged = false;
  const watcher = fs.watch(dataDir, (_event, filename) => {
    const now = performance.now();
    if (filename === 'master.key.next' && !seenStaged) {
      seenStaged = true;
      onStaged(now);
    } else if (filename === 'master.key' && seenStaged) onPromoted(now);
  });
  return { staged, promoted, close: () => watcher.close() };
}

/** Runs `pai rotate master-key`; kills the server `delayMs` after the next key is staged (never, if undefined). */
async function rotateAndMaybeKill(
  t: ExecutionContext<Ctx>,
  server: ServeHandle,
  delayMs: number | undefined,
): Promise<{ cli: CliResult; stagedToPromotedMs: number | undefined }> {
  const watch = watchRotation(server.dataDir);
  try {
    const cli = runPai(['rotate', 'master-key'], server.env);
    const staged = await Promise.race([
      watch.staged,
      cli.then((r) => {
        throw new Error(`pai rotate master-key ended before the rotation began: ${r.code} ${r.stderr}`);
      }),
    ]);
    if (delayMs !== undefined) {
      // A deliberate delay (not a wait for readiness): where in the rotation the kill lands.
      await new Promise((resolve) => setTimeout(resolve, delayMs));
      server.child.kill('SIGKILL');
      await server.kill();
      t.is(server.child.signalCode, 'SIGKILL');
      return { cli: await cli, stagedToPromotedMs: undefined };
    }
    const result = await cli;
    return { cli: result, stagedToPromotedMs: (await watch.promoted) - staged };
  } finally {
    watch.close();
  }
}

test.serial(`a kill -9 during master-key rotation over ${ROTATION_SECRETS} secrets never loses a secret`, async (t) => {
  const dataDir = newDataDir(t, 'rotation');
  const seeding = openLocal(dataDir);
  const expected = await seedSecrets(seeding, ROTATION_SECRETS, 'rot');
  await seeding.close();
  const keyFile = path.join(dataDir, 'master.key');

  // Calibrate: how long the rotation runs from staging the key to promoting it.
  const first = await serve(t, dataDir);
  const calibration = await rotateAndMaybeKill(t, first, undefined);
  t.is(calibration.cli.code, 0, calibration.cli.stderr);
  t.regex(
    calibration.cli.stdout,
    new RegExp(`master key rotated: [0-9a-f]{16} -> [0-9a-f]{16} \\(${ROTATION_SECRETS} secrets re-wrapped\\)`),
  );
  await first.stop();
  const span = Math.max(1, calibration.stagedToPromotedMs ?? 1);
  t.log(`rotation of ${ROTATION_SECRETS} secrets: ${span.toFixed(1)} ms from staged key to promoted key`);

  // The first kill lands right after staging; the others bisect towards the commit, where a kill
  // can cut the WAL write in half or fall between the commit and the key file's promotion.
  let lo = 0;
  let hi = 1.5 * span;
  const seen: Record<string, number> = {};
  for (let i = 0; i < KILLS; i++) {
    const delay = i === 0 ? 0 : (lo + hi) / 2;
    const server = await serve(t, dataDir);
    const keyBefore = readKeyFile(keyFile);
    const { cli } = await rotateAndMaybeKill(t, server, delay);
    const state = rotationState(dataDir, keyBefore);
    seen[state] = (seen[state] ?? 0) + 1;
    if (i > 0) {
      if (state === 'staged, not committed' || state === 'not started') lo = delay;
      else hi = delay;
    }
    t.log(`kill ${i + 1}: ${delay.toFixed(1)} ms after staging: ${state}`);
    t.true(
      cli.code === 0 || /cannot reach|socket hang up|ECONNRESET|unexpected error/.test(cli.stderr),
      `the CLI reports the lost server: ${cli.stderr}`,
    );

    // The server starts (finishing or discarding the rotation) and lists every secret.
    const restarted = await serve(t, dataDir);
    const list = await api(restarted.adminUrl, adminToken(dataDir), 'GET', '/v1/secrets');
    t.is(list.json.items.length, ROTATION_SECRETS, `killed at ${delay.toFixed(1)} ms (${state}): every secret is listed`);
    await restarted.stop();
    t.false(fs.existsSync(`${keyFile}.next`), 'no staged key is left once the server has started');
    if (state === 'committed, not promoted' || state === 'finished') t.false(readKeyFile(keyFile).equals(keyBefore));
    else t.true(readKeyFile(keyFile).equals(keyBefore));

    const store = openLocal(dataDir);
    try {
      await assertSecrets(t, store, expected);
    } finally {
      await store.close();
    }
  }
  t.log(`states the kills landed in: ${JSON.stringify(seen)}`);
  t.is(integrityCheck(dataDir), 'ok');
});
