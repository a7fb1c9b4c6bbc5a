#!/usr/bin/env node
// The persistence benchmark against a store you name; see `cloudstate-bench --help`.
import { main } from '../dist/persistence/bench/cli.js';

process.exitCode = await main(process.argv.slice(2));
