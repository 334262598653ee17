#!/usr/bin/env bash
# Deploy smoke test: build the hub bundle (scripts/bundle-hub.sh), copy it outside the repository,
# and run it as production would — plain `node`, NODE_ENV=production, an admin token made offline
# with the bundle's own `token create` — first on a fresh Postgres database, then on embedded
# PGlite: wait for /readyz, make one REST write, SIGTERM, expect exit 0.
#   env: SMOKE_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432), the server to make a database on
set -euo pipefail
cd "$(dirname "$0")/.."
server="${SMOKE_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432}"
work="$(mktemp -d "${TMPDIR:-/tmp}/tillsync-bundle-smoke.XXXXXX")"
dbname="tillsync_smoke_$$_$RANDOM"
pid=""
cleanup() {
  [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null || true
  psql -q "$server/postgres" -c "DROP DATABASE IF EXISTS $dbname" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT

bash scripts/bundle-hub.sh "$work/build"
# Out of the repository, where no workspace node_modules could be found by accident.
cp -a "$work/build" "$work/hub"
rm -rf "$work/build"
cd "$work"
hub() { node hub/dist/cli/main.js "$@"; }
port="$(node -e 's=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"
url="http://127.0.0.1:$port"

fail() {
  echo "smoke: $*" >&2
  [ -f serve.log ] && tail -n 40 serve.log >&2
  exit 1
}

# One run of the bundle against whatever database the environment names.
smoke() {
  local label="$1" token status code
  token="$(hub token create --role admin --name smoke | tail -n 1)"
  [[ "$token" == ts_* || ${#token} -gt 20 ]] || fail "$label: token create printed no token"
  NODE_ENV=production HOST=127.0.0.1 PORT="$port" LOG_LEVEL=warn node hub/dist/cli/main.js serve >serve.log 2>&1 &
  pid=$!
  for _ in $(seq 1 120); do
    status="$(curl -s -o /dev/null -w '%{http_code}' "$url/readyz" || true)"
    [ "$status" = 200 ] && break
    kill -0 "$pid" 2>/dev/null || fail "$label: the hub exited before it was ready"
    sleep 0.5
  done
  [ "$status" = 200 ] || fail "$label: /readyz never answered 200 (last: $status)"
  status="$(curl -s -o write.json -w '%{http_code}' -X POST "$url/v1/locations" \
    -H "authorization: Bearer $token" -H 'content-type: application/json' \
    -d '{"id":"smoke-store","name":"Smoke store","kind":"store"}')"
  [ "$status" = 201 ] || fail "$label: POST /v1/locations answered $status: $(cat write.json)"
  status="$(curl -s -o /dev/null -w '%{http_code}' -H "authorization: Bearer $token" "$url/v1/locations/smoke-store")"
  [ "$status" = 200 ] || fail "$label: the location written is not there ($status)"
  local started=$SECONDS
  kill -TERM "$pid"
  code=0
  wait "$pid" || code=$?
  pid=""
  [ "$code" = 0 ] || fail "$label: SIGTERM exited $code, not 0"
  echo "smoke ($label): ready, wrote a location, SIGTERM exited 0 in ~$((SECONDS - started)) s"
}

psql -q "$server/postgres" -c "CREATE DATABASE $dbname" >/dev/null
DATABASE_URL="$server/$dbname" smoke postgres
unset DATABASE_URL
TILLSYNC_DATA_DIR="$work/data" smoke pglite
