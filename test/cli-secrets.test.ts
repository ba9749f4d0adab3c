/**
 * `pai add|get|describe|delete secret` end to end: the real CLI binary against a real `pai serve`
 * on a temp data dir. Bad input fails with a clear message on stderr (exit 1, or 2 for usage) and
 * changes nothing; the bytes that arrive are checked by opening the store in-process at the end.
 */
import fs from 'node:fs';
import path from 'node:path';
import anyTest, { type TestFn } from 'ava';
import { LocalStore } from '../src/store/local/sqlite-store.js';
import { SECRET_FLOWS } from './helpers/cli-secret-flows.js';
import { type CliTarget, assertOk, createExisting, pai } from './helpers/cli-target.js';
import { type ServeHandle, adminToken, cleanEnv, runPai, startServe, tempDir } from './helpers/process.js';
import { assertSecrets, openLocal } from './helpers/secrets.js';

interface Ctx extends CliTarget {
  server: ServeHandle;
  /** A second server, for secrets created days, hours and minutes ago. */
  aged: ServeHandle;
}

const test = anyTest as TestFn<Ctx>;

/**
 * Writes secrets created `ageMs` ago straight into a running server's store (SQLite allows a
 * second process): each age sits mid-way in its display bucket, so a slow run cannot tip it over.
 */
async function seedAged(dataDir: string, ages: Record<string, number>): Promise<void> {
  for (const [name, ageMs] of Object.entries(ages)) {
    const store = LocalStore.open({
      dataDir,
      masterKeyFile: path.join(dataDir, 'master.key'),
      now: () => new Date(Date.now() - ageMs),
    });
    try {
      await store.createSecret('default', name, new Map([['token', Buffer.from(`value-of-${name}`)]]));
    } finally {
      await store.close();
    }
  }
}

test.before(async (t) => {
  const root = tempDir('pai-cli-');
  const files = path.join(root, 'files');
  fs.mkdirSync(files);
  const started = await Promise.allSettled([
    startServe({ dataDir: path.join(root, 'data') }),
    startServe({ dataDir: path.join(root, 'aged') }),
  ]);
  const [server, aged] = started.map((s) => (s.status === 'fulfilled' ? s.value : undefined));
  // Whatever started is in the context, so that test.after.always stops it even if the other failed.
  t.context = { root, files, expected: new Map() } as Ctx;
  if (server) t.context.server = server;
  if (aged) t.context.aged = aged;
  for (const s of started) if (s.status === 'rejected') throw s.reason;
  Object.assign(t.context, { token: adminToken(t.context.server.dataDir) });
  await createExisting(t.context);
});

test.after.always(async (t) => {
  await Promise.all([t.context.server?.stop(), t.context.aged?.stop()]);
  if (t.context.root) fs.rmSync(t.context.root, { recursive: true, force: true });
});

// ---- help -----------------------------------------------------------------------------------

/** The sub-command names listed under "Commands:" in a help text. */
function commandsIn(help: string): string[] {
  const section = help.split(/^Commands:$/m)[1] ?? '';
  return [...section.matchAll(/^ {2}([a-z][a-z-]*)/gm)].map((m) => m[1] ?? '').filter((c) => c !== 'help');
}

test.serial('every command and sub-command prints help and exits 0', async (t) => {
  const top = await pai(t.context, ['--help']);
  assertOk(t, top, /^Usage: pai \[options\] \[command\]/);
  const commands = commandsIn(top.stdout);
  for (const expected of ['add', 'get', 'describe', 'delete', 'serve', 'rotate', 'create'])
    t.true(commands.includes(expected), expected);
  const paths: string[][] = [];
  await Promise.all(
    commands.map(async (c) => {
      const r = await pai(t.context, [c, '--help']);
      assertOk(t, r, new RegExp(`^Usage: pai ${c} `));
      paths.push([c]);
      for (const sub of commandsIn(r.stdout)) paths.push([c, sub]);
    }),
  );
  const subs = paths.filter((p) => p.length === 2);
  t.true(subs.some((p) => p.join(' ') === 'add secret'));
  t.true(subs.some((p) => p.join(' ') === 'rotate master-key'));
  await Promise.all(
    subs.map(async (p) => {
      const r = await pai(t.context, [...p, '--help']);
      assertOk(t, r, new RegExp(`^Usage: pai ${p.join(' ')} `));
      t.regex(r.stdout, /-h, --help/);
    }),
  );
  const addHelp = await pai(t.context, ['add', 'help', 'secret']);
  assertOk(
    t,
    addHelp,
    /--from-literal <key\[=value\]>[\s\S]*--from-file[\s\S]*--from-env-file[\s\S]*--overwrite[\s\S]*Examples:/,
  );
  // The help says where values are safe and where they are not (issue 16, item 2).
  const help = addHelp.stdout.replace(/\s+/g, ' ');
  t.regex(help, /KEY alone: the value is asked for without echo on a terminal, else read from stdin/);
  t.regex(help, /visible to every local user \(ps\) and kept in shell history/);
  t.regex(help, /--from-literal api-key # asks for the value, no echo/);
});

// ---- the shared flows: bad input, the seed flow, input paths and exact bytes --------------------

for (const flow of SECRET_FLOWS) test.serial(flow.title, (t) => flow.run(t, t.context));

// ---- local store only ------------------------------------------------------------------------

test.serial('get secrets shows human ages: 2d, 5h, 3m', async (t) => {
  await seedAged(t.context.aged.dataDir, { 'old-2d': 60 * 3_600_000, 'old-5h': 5.5 * 3_600_000, 'old-3m': 3.5 * 60_000 });
  const r = await runPai(['get', 'secrets'], t.context.aged.env);
  assertOk(t, r, /^NAME/);
  const ages = Object.fromEntries(
    r.stdout
      .trimEnd()
      .split('\n')
      .slice(1)
      .map((l) => {
        const cells = l.split(/ {2,}/);
        return [cells[0], cells[2]];
      }),
  );
  t.deepEqual(ages, { 'old-2d': '2d', 'old-3m': '3m', 'old-5h': '5h' });
  const d = await runPai(['describe', 'secret', 'old-2d'], t.context.aged.env);
  t.regex(d.stdout, /^Created: {2}\S+ \(2d ago\)$/m);
  const direct = await runPai(
    ['get', 'secrets', '-o', 'name'],
    cleanEnv({ PAI_SERVER: t.context.aged.adminUrl, PAI_TOKEN: adminToken(t.context.aged.dataDir) }),
  );
  assertOk(t, direct, 'secret/old-2d\nsecret/old-3m\nsecret/old-5h\n');
});

test.serial('after the server stops, the store holds exactly the bytes the CLI was given', async (t) => {
  await t.context.server.stop();
  const store = openLocal(t.context.server.dataDir);
  try {
    await assertSecrets(t, store, t.context.expected);
  } finally {
    await store.close();
  }
});
