/**
 * The store contract against the embedded SQLite store, one fresh data directory per test.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import test from 'ava';
import { LocalStore } from '../src/store/local/sqlite-store.js';
import { storeContract } from './helpers/store-contract.js';

const dirs: string[] = [];

test.after.always(async () => {
  await Promise.all(dirs.map((d) => fs.rm(d, { recursive: true, force: true })));
});

storeContract('local', async () => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'pai-store-local-'));
  dirs.push(dir);
  return LocalStore.open({ dataDir: dir, masterKeyFile: path.join(dir, 'master.key') });
});
