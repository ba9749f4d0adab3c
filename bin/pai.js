#!/usr/bin/env -S node --no-memory-reducer
// The `pai` command. The TypeScript sources are compiled to dist/ by `make build`.
//
// --no-memory-reducer (V8 takes it only on the command line, not from NODE_OPTIONS or at run
// time): once `pai serve` has been idle for ~8 s, V8's memory reducer shrinks the heap and leaves
// the collector marking almost continuously afterwards, so every later Check costs ~1.5x the CPU
// (measured by bench/injector.ts; see README "Running pai serve"). A container that starts node
// itself must pass the flag too: `node --no-memory-reducer bin/pai.js serve`.
import { main } from '../dist/cli/main.js';

process.exitCode = await main(process.argv.slice(2));
