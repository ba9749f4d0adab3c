/**
 * Writes envoy/sidecar-ext-authz.yaml and envoy/sidecar-ext-proc.yaml from the fixtures in
 * scripts/envoy-examples.ts (`make envoy-examples`). Run it after changing the sidecar renderer.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { EXAMPLES, renderExample } from './envoy-examples.js';

for (const example of EXAMPLES) {
  const target = fileURLToPath(new URL(`../envoy/${example.file}`, import.meta.url));
  writeFileSync(target, renderExample(example).text);
  process.stdout.write(`wrote ${target}\n`);
}
