#!/usr/bin/env node
// The `pai` command. The TypeScript sources are compiled to dist/ by `make build`.
import { main } from '../dist/cli/main.js';

process.exitCode = await main(process.argv.slice(2));
