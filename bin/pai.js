#!/bin/sh
':' //; case "${PAI_NODE_PROFILE-}" in pod) F='--max-semi-space-size=8 --max-old-space-size=64 --expose-gc';; '') F=;; *) echo "pai: PAI_NODE_PROFILE must be pod or unset" >&2; exit 2;; esac; exec node --no-memory-reducer $F "$0" "$@"
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
//
// PAI_NODE_PROFILE=pod (set by the admission webhook on the injector sidecar, one per agent pod)
// adds a bounded heap: young generation semi-spaces of 8 MiB and an old space of 64 MiB, and
// exposes gc for the full collections pai serve runs once it has been quiet for 10 s
// (src/heap.ts). Under sustained load the injector's RSS stays ~95 MiB instead of ~165 MiB, and
// it is back near 79 MiB once quiet, for ~5-15% more CPU per Check (`make bench`, footprint part;
// docs/PERFORMANCE.md). A per-pod injector serves one agent and its live heap is ~12-16 MiB; the
// cap is not for the shared injector or the admin, whose live heap grows with the number of
// agents, so they run without a profile.
import { main } from '../dist/cli/main.js';

process.exitCode = await main(process.argv.slice(2));
