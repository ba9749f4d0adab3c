/**
 * The local store's envelope encryption and its file guards, in-process: tampered or moved records
 * fail with `integrity`, a wrong or loosely-permissioned key refuses to open (also through the real
 * `pai serve`), and a master-key rotation interrupted at any step leaves every secret readable.
 */
import fs from 'node:fs';
import path from 'node:path';
import test, { type ExecutionContext } from 'ava';
import Database from 'better-sqlite3';
import { ConfigError } from '../src/config.js';
import { PaiError } from '../src/errors.js';
import type { RotationStep } from '../src/store/local/master-key.js';
import type { LocalStore } from '../src/store/local/sqlite-store.js';
import { startServe, tempDir } from './helpers/process.js';
import { assertSecrets, awkwardBytes, type Expected, openLocal, seedSecrets } from './helpers/secrets.js';

const dirs: string[] = [];
const stores: LocalStore[] = [];

/** A fresh data dir (0700) and an open store in it. */
function freshStore(options: { onRotationStep?: (step: RotationStep) => void } = {}): { dataDir: string; store: LocalStore } {
  const root = tempDir('pai-crypto-');
  dirs.push(root);
  const dataDir = path.join(root, 'data');
  fs.mkdirSync(dataDir, { mode: 0o700 });
  const store = openLocal(dataDir, options as { onRotationStep?: (step: string) => void });
  stores.push(store);
  return { dataDir, store };
}

test.after.always(async () => {
  for (const s of stores) await s.close();
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

interface Row {
  version: number;
  wrapped_key: Buffer;
  ciphertext: Buffer;
}

/** Runs `fn` on a second, raw connection to the store's database (what an attacker with the file could do). */
function raw<T>(dataDir: string, fn: (db: Database.Database) => T): T {
  const db = new Database(path.join(dataDir, 'pai.db'));
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

const rowOf = (dataDir: string, name: string): Row =>
  raw(dataDir, (db) => db.prepare('SELECT version, wrapped_key, ciphertext FROM secrets WHERE name = ?').get(name) as Row);

function flip(buf: Buffer, offset: number): Buffer {
  const copy = Buffer.from(buf);
  const i = offset < 0 ? copy.length + offset : offset;
  copy[i] = (copy[i] ?? 0) ^ 0x01;
  return copy;
}

async function assertIntegrityError(t: ExecutionContext, store: LocalStore, name: string): Promise<void> {
  const err = await t.throwsAsync(store.readSecret('default', name), { instanceOf: PaiError });
  t.is(err?.code, 'integrity');
  t.regex(err?.message ?? '', new RegExp(`"${name}".*integrity check`));
}

// ---- tampering ------------------------------------------------------------------------------

const flips: { column: 'ciphertext' | 'wrapped_key'; offset: number; what: string }[] = [
  { column: 'ciphertext', offset: 0, what: 'nonce' },
  { column: 'ciphertext', offset: 20, what: 'body' },
  { column: 'ciphertext', offset: -1, what: 'tag' },
  { column: 'wrapped_key', offset: 0, what: 'nonce' },
  { column: 'wrapped_key', offset: 15, what: 'wrapped data key' },
  { column: 'wrapped_key', offset: -1, what: 'tag' },
];

for (const { column, offset, what } of flips) {
  test(`a flipped byte in the ${what} of the ${column} fails with integrity, and patch refuses too`, async (t) => {
    const { dataDir, store } = freshStore();
    await store.createSecret('default', 'victim', new Map([['k', Buffer.from('value-of-victim')]]));
    await store.createSecret('default', 'bystander', new Map([['k', Buffer.from('value-of-bystander')]]));
    const before = rowOf(dataDir, 'victim');
    raw(dataDir, (db) => db.prepare(`UPDATE secrets SET ${column} = ? WHERE name = 'victim'`).run(flip(before[column], offset)));

    await assertIntegrityError(t, store, 'victim');
    const patched = await t.throwsAsync(
      store.patchSecret('default', 'victim', { set: new Map([['k2', Buffer.from('x')]]), remove: [] }),
      {
        instanceOf: PaiError,
      },
    );
    t.is(patched?.code, 'integrity');
    t.is(rowOf(dataDir, 'victim').version, before.version, 'a failed patch writes nothing');
    t.is(
      (await store.readSecret('default', 'bystander')).data.get('k')?.toString(),
      'value-of-bystander',
      'other secrets still open',
    );
  });
}

test('a truncated ciphertext fails with integrity', async (t) => {
  const { dataDir, store } = freshStore();
  await store.createSecret('default', 'short', new Map([['k', Buffer.from('v')]]));
  raw(dataDir, (db) => db.prepare(`UPDATE secrets SET ciphertext = ? WHERE name = 'short'`).run(Buffer.alloc(10)));
  await assertIntegrityError(t, store, 'short');
});

test('a record moved onto another name fails with integrity (same version)', async (t) => {
  const { dataDir, store } = freshStore();
  await store.createSecret('default', 'alpha', new Map([['k', Buffer.from('alpha-value')]]));
  await store.createSecret('default', 'beta', new Map([['k', Buffer.from('beta-value')]]));
  const a = rowOf(dataDir, 'alpha');
  t.is(a.version, rowOf(dataDir, 'beta').version, 'both at the same version: only the name differs');
  raw(dataDir, (db) =>
    db.prepare(`UPDATE secrets SET wrapped_key = ?, ciphertext = ? WHERE name = 'beta'`).run(a.wrapped_key, a.ciphertext),
  );
  await assertIntegrityError(t, store, 'beta');
  t.is((await store.readSecret('default', 'alpha')).data.get('k')?.toString(), 'alpha-value');
});

test('a ciphertext moved without its wrapped key fails with integrity', async (t) => {
  const { dataDir, store } = freshStore();
  await store.createSecret('default', 'alpha', new Map([['k', Buffer.from('alpha-value')]]));
  await store.createSecret('default', 'beta', new Map([['k', Buffer.from('beta-value')]]));
  const a = rowOf(dataDir, 'alpha');
  raw(dataDir, (db) => db.prepare(`UPDATE secrets SET ciphertext = ? WHERE name = 'beta'`).run(a.ciphertext));
  await assertIntegrityError(t, store, 'beta');
});

test('an old version replayed at the current version fails with integrity', async (t) => {
  const { dataDir, store } = freshStore();
  await store.createSecret('default', 'rotated', new Map([['k', Buffer.from('old-value')]]));
  const v1 = rowOf(dataDir, 'rotated');
  await store.replaceSecret('default', 'rotated', new Map([['k', Buffer.from('new-value')]]));
  t.is(rowOf(dataDir, 'rotated').version, 2);
  raw(dataDir, (db) =>
    db.prepare(`UPDATE secrets SET wrapped_key = ?, ciphertext = ? WHERE name = 'rotated'`).run(v1.wrapped_key, v1.ciphertext),
  );
  await assertIntegrityError(t, store, 'rotated');
});

test('a deleted secret re-created never reuses a version, so its old record cannot be replayed', async (t) => {
  const { dataDir, store } = freshStore();
  await store.createSecret('default', 'phoenix', new Map([['k', Buffer.from('first-life')]]));
  const v1 = rowOf(dataDir, 'phoenix');
  await store.deleteSecret('default', 'phoenix');
  const meta = await store.createSecret('default', 'phoenix', new Map([['k', Buffer.from('second-life')]]));
  t.is(meta.version, 2);
  raw(dataDir, (db) =>
    db.prepare(`UPDATE secrets SET wrapped_key = ?, ciphertext = ? WHERE name = 'phoenix'`).run(v1.wrapped_key, v1.ciphertext),
  );
  await assertIntegrityError(t, store, 'phoenix');
});

test('a record whose version column is changed fails with integrity', async (t) => {
  const { dataDir, store } = freshStore();
  await store.createSecret('default', 'bumped', new Map([['k', Buffer.from('v')]]));
  raw(dataDir, (db) => db.prepare(`UPDATE secrets SET version = 7 WHERE name = 'bumped'`).run());
  await assertIntegrityError(t, store, 'bumped');
});

test('an edited key listing (names or sizes in clear) fails with integrity on the next read of the values', async (t) => {
  const { dataDir, store } = freshStore();
  await store.createSecret('default', 'listed', new Map([['real', Buffer.from('v')]]));
  raw(dataDir, (db) => db.prepare(`UPDATE secrets SET keys = '[{"name":"other","size":1}]' WHERE name = 'listed'`).run());
  await assertIntegrityError(t, store, 'listed');
});

test('values are stored as exact bytes and never in clear in the database file', async (t) => {
  const { dataDir, store } = freshStore();
  const marker = Buffer.from('plain-marker-7f3a9c21e5d8b406');
  const data = new Map([
    ['bytes', awkwardBytes()],
    ['with-equals', Buffer.from('a=b==c')],
    ['marker', marker],
    ['empty', Buffer.alloc(0)],
  ]);
  await store.createSecret('default', 'bytes', data);
  const back = (await store.readSecret('default', 'bytes')).data;
  t.deepEqual([...back.keys()].sort(), [...data.keys()].sort());
  for (const [k, v] of data) t.true(back.get(k)?.equals(v), `key ${k} round-trips`);
  const files = fs.readdirSync(dataDir).filter((f) => f.startsWith('pai.db'));
  t.true(files.includes('pai.db'));
  for (const f of files) {
    const bytes = fs.readFileSync(path.join(dataDir, f));
    t.is(bytes.indexOf(marker), -1, `${f} holds no plaintext`);
    t.is(bytes.indexOf(Buffer.from(marker.toString('base64'))), -1, `${f} holds no base64 of the value`);
  }
});

// ---- keys and permissions -------------------------------------------------------------------

async function closedStoreDir(): Promise<{ dataDir: string; keyFile: string; expected: Expected }> {
  const { dataDir, store } = freshStore();
  const expected = await seedSecrets(store, 3);
  await store.close();
  return { dataDir, keyFile: path.join(dataDir, 'master.key'), expected };
}

function assertConfigError(t: ExecutionContext, fn: () => unknown, variable: string, message: RegExp): void {
  const err = t.throws(fn, { instanceOf: ConfigError });
  t.is(err?.variable, variable);
  t.regex(err?.message ?? '', message);
}

test('a wrong master key refuses to open, naming PAI_MASTER_KEY_FILE, and changes nothing', async (t) => {
  const { dataDir, keyFile, expected } = await closedStoreDir();
  const original = fs.readFileSync(keyFile);
  const dbBefore = fs.readFileSync(path.join(dataDir, 'pai.db'));
  fs.writeFileSync(keyFile, `${'ab'.repeat(32)}\n`, { mode: 0o600 });
  assertConfigError(
    t,
    () => openLocal(dataDir),
    'PAI_MASTER_KEY_FILE',
    /does not open the database.*expects key id [0-9a-f]{16}.*refusing/,
  );
  t.false(fs.existsSync(`${keyFile}.next`));
  t.true(fs.readFileSync(path.join(dataDir, 'pai.db')).equals(dbBefore), 'the database is untouched');
  fs.writeFileSync(keyFile, original);
  const store = openLocal(dataDir);
  stores.push(store);
  await assertSecrets(t, store, expected);
});

test('a missing master key with an existing database refuses to open (no new key is generated)', async (t) => {
  const { dataDir, keyFile } = await closedStoreDir();
  fs.rmSync(keyFile);
  assertConfigError(t, () => openLocal(dataDir), 'PAI_MASTER_KEY_FILE', /is missing, but the database already holds secrets/);
  t.false(fs.existsSync(keyFile), 'no replacement key was generated');
});

test('a malformed master key file refuses to open', async (t) => {
  const { dataDir, keyFile } = await closedStoreDir();
  fs.writeFileSync(keyFile, 'not a key\n', { mode: 0o600 });
  assertConfigError(t, () => openLocal(dataDir), 'PAI_MASTER_KEY_FILE', /is not a master key \(expected 64 hex characters\)/);
});

test('a master key file readable by others (0644) refuses to open', async (t) => {
  const { dataDir, keyFile } = await closedStoreDir();
  fs.chmodSync(keyFile, 0o644);
  assertConfigError(t, () => openLocal(dataDir), 'PAI_MASTER_KEY_FILE', /has mode 0644; it must be 0600 \(fix: chmod 600 /);
});

// Changing a file's owner needs root; elsewhere these two cases cannot be set up.
const asRoot = process.getuid?.() === 0 ? test : test.skip;
const NOBODY = 65534;

asRoot('a master key file owned by another user refuses to open, naming the owner (issue 16, item 7)', async (t) => {
  const { dataDir, keyFile } = await closedStoreDir();
  fs.chownSync(keyFile, NOBODY, NOBODY);
  assertConfigError(
    t,
    () => openLocal(dataDir),
    'PAI_MASTER_KEY_FILE',
    /master\.key is owned by uid 65534, not by this process \(uid 0\); it must belong to the user pai serve runs as \(fix: chown 0 /,
  );
});

asRoot('pai serve refuses a master key file owned by another user', async (t) => {
  const { dataDir, keyFile } = await closedStoreDir();
  fs.chownSync(keyFile, NOBODY, NOBODY);
  const out = await serveRefuses(t, dataDir);
  t.regex(out, /error: PAI_MASTER_KEY_FILE: \S+master\.key is owned by uid 65534, not by this process/);
});

test('a database file readable by others (0644) refuses to open', async (t) => {
  const { dataDir } = await closedStoreDir();
  fs.chmodSync(path.join(dataDir, 'pai.db'), 0o644);
  assertConfigError(t, () => openLocal(dataDir), 'PAI_DATA_DIR', /pai\.db has mode 0644/);
});

test('a new store creates its key file and database 0600', (t) => {
  const { dataDir } = freshStore();
  for (const f of ['master.key', 'pai.db']) t.is(fs.statSync(path.join(dataDir, f)).mode & 0o777, 0o600, f);
});

/** Starts `pai serve` expecting it to refuse; returns its output. */
async function serveRefuses(t: ExecutionContext, dataDir: string): Promise<string> {
  try {
    const server = await startServe({ dataDir });
    await server.stop();
    t.fail('pai serve started although it should have refused');
    return '';
  } catch (err) {
    const text = (err as Error).message;
    t.regex(text, /exited with 1 before ready/);
    t.notRegex(text, /^ready$/m);
    return text;
  }
}

test('pai serve refuses a wrong master key and says which variable', async (t) => {
  const { dataDir, keyFile } = await closedStoreDir();
  fs.writeFileSync(keyFile, `${'cd'.repeat(32)}\n`, { mode: 0o600 });
  const out = await serveRefuses(t, dataDir);
  t.regex(out, /error: PAI_MASTER_KEY_FILE: the master key in \S+master\.key \(key id [0-9a-f]{16}\) does not open the database/);
});

test('pai serve refuses a master key file with mode 0644', async (t) => {
  const { dataDir, keyFile } = await closedStoreDir();
  fs.chmodSync(keyFile, 0o644);
  const out = await serveRefuses(t, dataDir);
  t.regex(out, /error: PAI_MASTER_KEY_FILE: \S+master\.key has mode 0644; it must be 0600/);
});

test('pai serve refuses a data dir with mode 0755', async (t) => {
  const { dataDir } = await closedStoreDir();
  fs.chmodSync(dataDir, 0o755);
  const out = await serveRefuses(t, dataDir);
  t.regex(out, /error: PAI_DATA_DIR: data directory \S+ has mode 0755; .* must be 0700 \(fix: chmod 700 /);
});

// ---- master-key rotation --------------------------------------------------------------------

test('rotation re-wraps every secret under a new key and the key file follows', async (t) => {
  const { dataDir, store } = freshStore();
  const expected = await seedSecrets(store, 50);
  const keyFile = path.join(dataDir, 'master.key');
  const before = fs.readFileSync(keyFile, 'utf8');
  const result = store.rotateMasterKey();
  t.is(result.rewrapped, 50);
  t.not(result.newKeyId, result.oldKeyId);
  t.is(store.masterKeyId, result.newKeyId);
  t.not(fs.readFileSync(keyFile, 'utf8'), before);
  t.is(fs.statSync(keyFile).mode & 0o777, 0o600);
  t.false(fs.existsSync(`${keyFile}.next`));
  await assertSecrets(t, store, expected);
  await store.close();
  const reopened = openLocal(dataDir);
  stores.push(reopened);
  t.is(reopened.masterKeyId, result.newKeyId);
  await assertSecrets(t, reopened, expected);
});

const STEPS: readonly RotationStep[] = ['next-key-written', 'before-commit', 'after-commit'];

for (const step of STEPS) {
  test(`a rotation that crashes at ${step} reopens with every secret readable and no .next left`, async (t) => {
    const crash = new Error(`simulated crash at ${step}`);
    const { dataDir, store } = freshStore({
      onRotationStep: (s) => {
        if (s === step) throw crash;
      },
    });
    const expected = await seedSecrets(store, 40);
    expected.set('awkward', new Map([['bytes', awkwardBytes()]]));
    await store.createSecret('default', 'awkward', expected.get('awkward') ?? new Map());
    const oldId = store.masterKeyId;
    const keyFile = path.join(dataDir, 'master.key');

    const err = t.throws(() => store.rotateMasterKey());
    // A throw inside the transaction comes back wrapped as a store error; its cause is the crash.
    t.true(err === crash || (err as { cause?: unknown } | undefined)?.cause === crash);
    t.is(
      fs.existsSync(`${keyFile}.next`),
      step !== 'before-commit',
      'the staged key is on disk unless the commit failed cleanly',
    );
    // The crash: the process is gone; the files stay as they are.
    await store.close();

    const reopened = openLocal(dataDir);
    stores.push(reopened);
    t.false(fs.existsSync(`${keyFile}.next`), 'reopening finishes or discards the rotation');
    if (step === 'after-commit') t.not(reopened.masterKeyId, oldId, 'a committed rotation is finished');
    else t.is(reopened.masterKeyId, oldId, 'an uncommitted rotation is discarded');
    t.is(fs.statSync(keyFile).mode & 0o777, 0o600);
    await assertSecrets(t, reopened, expected);

    // The store is fully usable afterwards: a later rotation succeeds and survives a reopen.
    const again = reopened.rotateMasterKey();
    t.is(again.rewrapped, expected.size);
    await reopened.close();
    const third = openLocal(dataDir);
    stores.push(third);
    t.is(third.masterKeyId, again.newKeyId);
    await assertSecrets(t, third, expected);
  });
}

test('a rotation whose key-file promotion fails after commit leaves the running store usable', async (t) => {
  // Not a crash: the process lives on (e.g. the rename or the directory fsync failed).
  let failAt: RotationStep | undefined = 'after-commit';
  const { dataDir, store } = freshStore({
    onRotationStep: (s) => {
      if (s === failAt) {
        failAt = undefined;
        throw new Error(`promotion failed at ${s}`);
      }
    },
  });
  const expected = await seedSecrets(store, 20);
  const keyFile = path.join(dataDir, 'master.key');
  t.throws(() => store.rotateMasterKey(), { message: /promotion failed/ });

  // The database is committed under the new key: this process must keep reading and writing.
  await assertSecrets(t, store, expected);
  const fresh = new Map([['k', Buffer.from('written-after-the-failed-promotion')]]);
  await store.createSecret('default', 'after-failure', fresh);
  expected.set('after-failure', fresh);

  // A second rotation that crashes right after staging its key must not lose the key in use.
  failAt = 'next-key-written';
  t.throws(() => store.rotateMasterKey(), { message: /promotion failed/ });
  await store.close();

  const reopened = openLocal(dataDir);
  stores.push(reopened);
  t.false(fs.existsSync(`${keyFile}.next`));
  await assertSecrets(t, reopened, expected);
});
