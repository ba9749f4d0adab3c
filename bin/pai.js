#!/bin/sh
':' //; exec node --no-memory-reducer "$0" "$@"
// The `pai` command. The TypeScript sources are compiled to dist/ by `make build`.
//
// The two lines above are read by both sh and node. Run as a program, the kernel hands the file to
// /bin/sh, for which line 2 is `:` (a no-op) and then `exec node FLAGS this-file ARGS`; node
// skips the #! line and sees line 2 as a string and a comment. This passes node flags portably
// (`#!/usr/bin/env -S node FLAGS` needs GNU or BSD env; BusyBox's, as on Alpine, has no -S).
//
// --no-memory-reducer (V8 takes it only on the command line, not from NODE_OPTIONS or at run
// time): once `pai serve` has been idle for ~8 s, V8's memory reducer shrinks the heap and leaves
// the collector marking almost continuously afterwards, so every later Check costs ~1.5x the CPU
// (measured by bench/injector.ts; see README "Beyond one machine"). A container that starts node
// itself must pass the flag too: `node --no-memory-reducer bin/pai.js serve`.
import { main } from '../dist/cli/main.js';

process.exitCode = await main(process.argv.slice(2));
