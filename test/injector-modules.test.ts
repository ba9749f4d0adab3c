/**
 * What a per-pod injector loads: `startServer` with role injector (the compiled dist/, as
 * `pai serve --role injector` runs it) in a child process, which then lists the npm packages
 * behind the CommonJS modules it loaded (ESM imports of CommonJS packages go through the same
 * cache). The packages a pod's injector must not load, and why (docs/PERFORMANCE.md):
 *   protobufjs, @grpc/proto-loader  every served message has a hand-written codec (a Root of
 *                                   Envoy's protos was ~4-5 MiB of heap per pod)
 *   prom-client                     no /metrics in an injector (~1.3 MiB)
 *   yaml                            only the CLI and the admin API parse YAML
 *   node-vault                      only a process on the Vault store (this one is local)
 *   commander                       `pai serve --role R` skips the command tree (cli/main.ts)
 *   pino                            pai writes its log lines itself (log.ts)
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import test from 'ava';
import { PAI_NODE_FLAGS, PAI_POD_NODE_FLAGS, ROOT, tempDir } from './helpers/process.js';

// `pai serve --role injector` through the CLI's entry point (as bin/pai.js runs it), then the list
// once its socket is there.
const CHILD = `
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
const { main } = await import(path.join(process.env.ROOT, 'dist/cli/main.js'));
void main(['serve', '--role', 'injector']);
const socket = path.join(process.env.DIR, 'inj.sock');
for (let i = 0; i < 300 && !fs.existsSync(socket); i++) await new Promise((r) => setTimeout(r, 50));
const cache = createRequire(import.meta.url).cache;
const packages = new Set();
for (const file of Object.keys(cache)) {
  const m = /node_modules\\/((?:@[^/]+\\/)?[^/]+)\\//.exec(file);
  if (m) packages.add(m[1]);
}
process.stdout.write("\\nMODULES " + JSON.stringify({ listening: fs.existsSync(socket), packages: [...packages].sort() }) + "\\n");
process.exit(0);
`;

test('an injector (pod profile) loads no protobuf descriptors, prom-client, YAML parser, commander or pino', (t) => {
  const dir = tempDir('pai-injector-modules-');
  const out = execFileSync(process.execPath, [...PAI_NODE_FLAGS, ...PAI_POD_NODE_FLAGS, '--input-type=module', '-e', CHILD], {
    env: {
      PATH: process.env['PATH'] ?? '',
      ROOT,
      DIR: dir,
      HOME: dir,
      PAI_DATA_DIR: path.join(dir, 'data'),
      PAI_INJECTOR_LISTEN: `unix:${path.join(dir, 'inj.sock')}`,
      PAI_LOG_LEVEL: 'error',
    },
    cwd: path.join(ROOT),
  }).toString();
  const line = out.split('\n').find((l) => l.startsWith('MODULES ')) ?? '';
  const { listening, packages } = JSON.parse(line.slice('MODULES '.length)) as { listening: boolean; packages: string[] };
  t.true(listening, 'the injector is listening');
  t.true(packages.includes('@grpc/grpc-js'), `the listing works: ${packages.join(', ')}`);
  for (const absent of ['protobufjs', '@grpc/proto-loader', 'prom-client', 'yaml', 'node-vault', 'commander', 'pino']) {
    t.false(packages.includes(absent), `${absent} loaded by an injector: ${packages.join(', ')}`);
  }
});
