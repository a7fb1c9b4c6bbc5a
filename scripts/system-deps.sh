#!/usr/bin/env bash
# The Debian packages the tests use, installed when missing (run by `npm test` before the tests):
#   protobuf-compiler + libprotobuf-dev  protoc, to test the proxy with descriptor sets made as
#                                        user functions in other languages make them
#   python3-grpcio                       an independent gRPC implementation calling the proxy
#   postgresql                           the server binaries the Postgres tests start themselves
#   chromium                             the headless browser of the chat presence page's test,
#                                        driven by playwright-core (which downloads no browser)
# As root with apt-get (CI) it installs what is missing; otherwise it says what is missing and
# the tests that need it fail or skip saying why. Nothing is downloaded from anywhere else.
set -uo pipefail

missing=()
command -v protoc >/dev/null 2>&1 || missing+=(protobuf-compiler)
[ -f /usr/include/google/protobuf/any.proto ] || missing+=(libprotobuf-dev)
/usr/bin/python3 -c 'import grpc' >/dev/null 2>&1 || missing+=(python3-grpcio)
ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || missing+=(postgresql)
[ -x /usr/bin/chromium ] || [ -n "${CHROMIUM_PATH:-}" ] || missing+=(chromium)

[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "system-deps: installing ${missing[*]} (Debian packages)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
    || echo "system-deps: could not install ${missing[*]}; the tests that need them will say so" >&2
else
  echo "system-deps: missing ${missing[*]} (apt-get install them as root); the tests that need them will say so" >&2
fi
exit 0
