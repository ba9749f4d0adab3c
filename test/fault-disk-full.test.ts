/**
 * The local store on a full disk: `pai serve` with its data dir on a small tmpfs (when this user may
 * mount one), else under a file-size limit (`prlimit --fsize`, SIGXFSZ ignored, raised again with
 * `prlimit --pid`). Writes must fail with a clear 503 naming the disk, reads must keep working (the
 * admin API and the injector), nothing may be half-written (every audit line parses, PRAGMA
 * integrity_check is ok), and once space is back writes work again and every acknowledged write is
 * there after a restart.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import anyTest, { type TestFn } from 'ava';
import Database from 'better-sqlite3';
import { makeCanary } from './helpers/canary.js';
import { Admin, authClient, check, checkRequest, resource } from './helpers/injector.js';
import { PAI_BIN, PAI_NODE_FLAGS, adminToken, cleanEnv, tempDir } from './helpers/process.js';

interface Ctx {
  root: string;
  /** Mounted file systems to take down (an array: ava gives each test a shallow copy of the context). */
  readonly mounts: string[];
  children: ChildProcess[];
}
const test = anyTest as TestFn<Ctx>;

function tryMountTmpfs(dir: string, size: string): boolean {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size},mode=0700`, 'tmpfs', dir], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

function hasPrlimit(): boolean {
  try {
    execFileSync('prlimit', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

test.before((t) => {
  t.context = { root: tempDir('pai-diskfull-'), mounts: [], children: [] };
});

test.after.always((t) => {
  for (const child of t.context.children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  for (const mount of t.context.mounts) {
    try {
      execFileSync('umount', ['-l', mount], { stdio: 'ignore' });
    } catch {
      // best effort
    }
  }
  fs.rmSync(t.context.root, { recursive: true, force: true });
});

/** Starts `pai serve` (role all) through `command` and resolves with the child and its admin URL once ready. */
function serve(
  t: { context: Ctx },
  command: string[],
  dataDir: string,
): Promise<{ child: ChildProcess; url: string; output: () => string }> {
  const env = cleanEnv({ PAI_DATA_DIR: dataDir, PAI_ADMIN_LISTEN: '127.0.0.1:0', PAI_LOG_LEVEL: 'info' });
  const [cmd, ...args] = command;
  const child = spawn(cmd ?? process.execPath, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  t.context.children.push(child);
  let out = '';
  return new Promise((resolve, reject) => {
    child.stderr?.on('data', (c: Buffer) => (out += c.toString()));
    child.stdout?.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /admin API:\s+(\S+)/.exec(out);
      if (/^ready$/m.test(out) && m?.[1]) resolve({ child, url: m[1], output: () => out });
    });
    child.on('exit', (code) => reject(new Error(`pai serve exited with ${code}: ${out}`)));
  });
}

function stop(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

/** Fills the file system holding `dir` to the last byte; returns the filler file. */
function fillDisk(dir: string): string {
  const filler = path.join(dir, 'filler');
  const fd = fs.openSync(filler, 'w');
  const chunk = Buffer.alloc(64 * 1024, 0x5a);
  try {
    for (;;) {
      try {
        if (fs.writeSync(fd, chunk) < chunk.length) break;
      } catch {
        break;
      }
    }
    // The last partial pages too.
    for (let n = 4096; n >= 1; n = Math.floor(n / 2)) {
      try {
        while (fs.writeSync(fd, chunk.subarray(0, n)) === n);
      } catch {
        // full at this size; try smaller
      }
    }
  } finally {
    fs.closeSync(fd);
  }
  return filler;
}

const limitMode = (root: string): 'tmpfs' | 'fsize' | 'none' => {
  // PAI_TEST_DISK_FULL=fsize runs the file-size-limit variant where a tmpfs could be mounted.
  if (process.env['PAI_TEST_DISK_FULL'] === 'fsize') return hasPrlimit() ? 'fsize' : 'none';
  const probe = path.join(root, 'probe');
  fs.mkdirSync(probe, { mode: 0o700 });
  if (tryMountTmpfs(probe, '1m')) {
    execFileSync('umount', [probe]);
    return 'tmpfs';
  }
  return hasPrlimit() ? 'fsize' : 'none';
};

test.serial(
  'disk full: clear 503 naming the disk, reads keep working, nothing corrupted, writes resume with space',
  async (t) => {
    const mode = limitMode(t.context.root);
    if (mode === 'none') {
      t.log('neither a tmpfs mount nor prlimit is available here: nothing to test');
      t.pass();
      return;
    }
    const mount = path.join(t.context.root, 'disk');
    fs.mkdirSync(mount, { mode: 0o700 });
    if (mode === 'tmpfs') {
      t.true(tryMountTmpfs(mount, '8m'));
      t.context.mounts.push(mount);
    }
    const dataDir = path.join(mount, 'data');
    fs.mkdirSync(dataDir, { mode: 0o700 });
    const limitBytes = 2 * 1024 * 1024;
    const command =
      mode === 'tmpfs'
        ? [process.execPath, ...PAI_NODE_FLAGS, PAI_BIN, 'serve']
        : // SIGXFSZ ignored (as `trap '' XFSZ` would), so that a write past the limit fails with EFBIG instead of killing the process.
          [
            'sh',
            '-c',
            `trap '' XFSZ; exec prlimit --fsize=${limitBytes}:unlimited "$0" "$@"`,
            process.execPath,
            ...PAI_NODE_FLAGS,
            PAI_BIN,
            'serve',
          ];
    const server = await serve(t, command, dataDir);
    const admin = new Admin(server.url, adminToken(dataDir));
    const canary = makeCanary('disk');
    await admin.createSecret('keep', { token: canary });
    await admin.apply(
      resource('Provider', 'disk-api', { type: 'http', hosts: ['api.disk.example'], auth: { secretRef: 'keep' } }),
      resource('Agent', 'bot', { providers: ['disk-api'], env: [{ name: 'KEEP', secretRef: { name: 'keep', key: 'token' } }] }),
    );

    let filler: string | undefined;
    if (mode === 'tmpfs') filler = fillDisk(mount);
    // Write until the store refuses 40 times in a row (space left in the WAL may take a few): enough
    // refusals for their audit records to fill the audit log's last page too.
    const acked = new Set<string>(['keep']);
    const failures: { status: number; code: string; message: string }[] = [];
    const bigValue = 'v'.repeat(mode === 'tmpfs' ? 4096 : 64 * 1024);
    let consecutive = 0;
    for (let i = 0; consecutive < 40 && i < 2000; i++) {
      const name = `fill-${i}`;
      const res = await admin.call('POST', '/v1/secrets', { name, data: { v: bigValue } });
      if (res.status === 201) {
        acked.add(name);
        consecutive = 0;
      } else {
        failures.push({ status: res.status, code: res.json?.error?.code, message: res.json?.error?.message });
        consecutive++;
      }
    }
    t.true(failures.length >= 40, `writes failed once the disk was full (${acked.size} acknowledged first)`);
    const last = failures[failures.length - 1];
    t.log(
      `${mode}: ${acked.size} writes acknowledged before the disk was full; then ${failures.length} refused, the last: ${last?.status} ${last?.message}`,
    );
    for (const f of failures) {
      t.is(f.status, 503, f.message);
      t.is(f.code, 'store_unavailable');
      t.regex(
        f.message,
        mode === 'tmpfs' ? /disk is full/ : /disk is full|writing to the disk failed/,
        'the message names the cause',
      );
    }
    // Other writes fail the same clear way (or succeed if they fit): never a 500.
    for (const [method, p, body] of [
      ['PUT', '/v1/secrets/keep', { data: { token: canary } }],
      ['PATCH', '/v1/secrets/keep', { data: { extra: 'x'.repeat(8192) } }],
      [
        'PUT',
        '/v1/providers/disk-api-2',
        resource('Provider', 'disk-api-2', { type: 'http', hosts: ['b.disk.example'], auth: { secretRef: 'keep' } }),
      ],
      ['POST', '/v1/tokens', { role: 'viewer' }],
    ] as const) {
      const res = await admin.call(method, p, body);
      t.true(res.status < 300 || res.status === 503, `${method} ${p}: ${res.status} ${res.text}`);
      if (res.status === 503) t.regex(res.json.error.message, /disk is full|writing to the disk failed/);
    }
    // Reads keep working: the admin API, and the injector (a fresh read of the secret).
    t.is((await admin.call('GET', '/v1/secrets')).status, 200);
    t.is((await admin.call('GET', '/v1/secrets/keep')).status, 200);
    const client = authClient(`unix:${dataDir}/injector.sock`);
    try {
      const res = await check(client, checkRequest({ authority: 'api.disk.example', agent: 'bot' }));
      t.is(res.status?.code, 0, 'the injector still injects');
      t.deepEqual(
        res.ok_response?.headers?.map((h) => h.header?.value),
        [`Bearer ${canary}`],
      );
    } finally {
      client.close();
    }
    // An env render that cannot be audited is refused, and returns no value.
    const render = await admin.call('GET', '/v1/agents/bot/env');
    t.true(render.status === 200 || render.status === 503, render.text);
    if (render.status === 503) t.false(render.text.includes(canary), 'a refused render carries no value');

    // Space is back: writes work again.
    if (filler) fs.rmSync(filler);
    else execFileSync('prlimit', ['--pid', String(server.child.pid), '--fsize=unlimited']);
    const again = await admin.call('POST', '/v1/secrets', { name: 'after-space', data: { v: 'ok' } });
    t.is(again.status, 201, again.text);
    acked.add('after-space');
    await stop(server.child);

    // Nothing corrupted: every audit line is whole JSON, the database passes integrity_check, and a
    // restarted server lists every acknowledged secret.
    const lines = fs.readFileSync(path.join(dataDir, 'audit.log'), 'utf8').split('\n').filter(Boolean);
    const torn = lines.filter((l) => {
      try {
        JSON.parse(l);
        return false;
      } catch {
        return true;
      }
    });
    t.deepEqual(torn, [], `all ${lines.length} audit records are whole`);
    const db = new Database(path.join(dataDir, 'pai.db'), { readonly: true });
    try {
      t.is((db.pragma('integrity_check') as { integrity_check: string }[])[0]?.integrity_check, 'ok');
    } finally {
      db.close();
    }
    const restarted = await serve(t, [process.execPath, ...PAI_NODE_FLAGS, PAI_BIN, 'serve'], dataDir);
    const listed = await new Admin(restarted.url, adminToken(dataDir)).call('GET', '/v1/secrets');
    const names = new Set((listed.json.items as { name: string }[]).map((i) => i.name));
    t.deepEqual(
      [...acked].filter((n) => !names.has(n)),
      [],
      `every one of ${acked.size} acknowledged writes is there after a restart`,
    );
    t.false(restarted.output().includes(canary) || server.output().includes(canary), 'no value in the logs');
    await stop(restarted.child);
  },
);
