// The no-op floor of bench/footprint.ts: a grpc-js server answering every Check with OK, built from
// the injector's own lean service definition and server options, and nothing else (plain JS on
// dist/, so that no TypeScript loader adds to its memory). Run: node FLAGS bench/floor-server.mjs unix:PATH
import * as grpc from '@grpc/grpc-js';
import { envoyService } from '../dist/injector/envoy-grpc.js';
import { INJECTOR_SERVER_OPTIONS } from '../dist/injector/server-options.js';

const server = new grpc.Server(INJECTOR_SERVER_OPTIONS);
const ok = { status: { code: 0 }, ok_response: {} };
server.addService(envoyService('auth'), { Check: (_call, callback) => callback(null, ok) });
server.bindAsync(process.argv[2], grpc.ServerCredentials.createInsecure(), (err) => {
  if (err) throw err;
  process.stdout.write('ready\n');
});
process.on('SIGTERM', () => server.tryShutdown(() => process.exit(0)));
