#!/usr/bin/env bash
# Build the self-contained hub bundle: compiled hub + sync-protocol, migrations, the HQ page, and
# production node_modules (pnpm's own `deploy`: the hub's dependencies as the lockfile pins them, no
# dev dependencies, no workspace links). It runs with plain `node <dir>/dist/cli/main.js serve`.
# The one recipe for every deployment: CI smoke-tests it (scripts/smoke-bundle.sh), the Dockerfile
# and the systemd unit (deploy/) run exactly its output.
#   usage: scripts/bundle-hub.sh [out dir, default build/hub]
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-build/hub}"

pnpm exec tsc -b hub/tsconfig.json
node hub/ui/build.mjs
rm -rf "$out"
# --legacy: the workspace does not inject its packages (pnpm 10's default deploy needs that).
pnpm --filter @tillsync/hub deploy --prod --legacy "$out" >/dev/null
# The bundle must not reach back into the repository: every file is a copy.
if find "$out" -type l -lname "$(pwd)/*" | grep -q .; then
  echo "error: $out links into the repository" >&2
  exit 1
fi
echo "hub bundle in $out ($(du -sh "$out" | cut -f1)): node $out/dist/cli/main.js serve"
