#!/usr/bin/env node
// The Cloudstate proxy sidecar (`cloudstate-proxy --help` for its options). Runs the built code
// in dist/ (`npm run build`, done by `npm install` in this repository).
import { main } from '../dist/proxy/main.js';

main(process.argv.slice(2), process.env).then(
  (code) => process.exit(code),
  (error) => {
    process.stderr.write(`cloudstate-proxy: ${error?.stack ?? error}\n`);
    process.exit(1);
  },
);
