#!/usr/bin/env node
// The Cloudstate proxy sidecar. The proxy itself is not built yet (it comes with the proxy
// issue); until then this entry point prints its usage and says so, rather than pretending.
const usage = `Usage: cloudstate-proxy [options]

Runs the Cloudstate proxy (protocol 0.2) as a sidecar next to a user function.

Options (planned; see README):
  --dev                     form a one-node cluster by itself
  --store <kind>            memory | leveldb | postgres | cassandra (default leveldb, in ./data)
  --help                    show this help

Environment:
  USER_FUNCTION_HOST, USER_FUNCTION_PORT   where the user function listens (127.0.0.1:8080)
  HTTP_PORT                                ingress port (9000)
`;

process.stdout.write(usage);
if (!process.argv.includes('--help')) {
  process.stdout.write(
    '\nThe proxy is not implemented in this version yet: today the package provides the\n' +
      'persistence layer (see README "Persistence"). Nothing was started.\n',
  );
}
