#!/usr/bin/env bash
# Static analysis and known vulnerabilities, as CI runs them (called by
# scripts/test.sh). Both tools come from tools.mod, so go.mod stays lean; the
# vulnerability database is built offline from the golang.org/x/vulndb module
# into tmp/ (ignored by git), because this network cannot reach vuln.go.dev.
# Any finding not in the reviewed allowlist fails.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p tmp

# staticcheck: zero findings except those in .staticcheck-allowlist ("<path> <check> reason").
echo "== staticcheck"
status=0
go tool -modfile=tools.mod staticcheck ./... >tmp/staticcheck.out 2>&1 || status=$?
if [ "$status" -ne 0 ] && [ "$status" -ne 1 ]; then
  cat tmp/staticcheck.out >&2
  echo "staticcheck did not run (exit $status)" >&2
  exit 1
fi
new=$( (grep -E '^[^ ]+:[0-9]+:[0-9]+: ' tmp/staticcheck.out || true) | while IFS= read -r line; do
  path=${line%%:*}
  check=$(sed -nE 's/.*\(([A-Z]+[0-9]+)\)$/\1/p' <<<"$line")
  if ! grep -qE "^${path//./\\.} ${check}( |$)" .staticcheck-allowlist; then
    echo "$line"
  fi
done)
if [ -n "$new" ]; then
  echo "staticcheck findings (fix them, or add a reviewed line to .staticcheck-allowlist):" >&2
  echo "$new" >&2
  exit 1
fi

# govulncheck against a pinned snapshot of the Go vulnerability database. Bump
# VULNDB_VERSION (go list -m golang.org/x/vulndb@latest) to pick up new advisories.
echo "== govulncheck (offline database)"
VULNDB_VERSION="${VULNDB_VERSION:-v0.0.0-20261105234957-e22db6528018}"
db="$PWD/tmp/vulndb/$VULNDB_VERSION"
if [ ! -f "$db/index/modules.json" ]; then
  src=$(go mod download -json "golang.org/x/vulndb@$VULNDB_VERSION" | sed -nE 's/^[[:space:]]*"Dir": "(.*)",?$/\1/p')
  if [ -z "$src" ] || [ ! -d "$src/data/osv" ]; then
    echo "could not download golang.org/x/vulndb@$VULNDB_VERSION" >&2
    exit 1
  fi
  echo "   building the database index (first run only)"
  mkdir -p "$(dirname "$db")"
  (cd "$src" && go build -buildvcs=false -o "$db.indexdb" ./cmd/indexdb)
  rm -rf "$db.tmp"
  "$db.indexdb" -vulns "$src/data/osv" -out "$db.tmp"
  rm -rf "$db" && mv "$db.tmp" "$db" && rm -f "$db.indexdb"
fi
status=0
go tool -modfile=tools.mod govulncheck -db "file://$db" ./... >tmp/govulncheck.out 2>&1 || status=$?
if [ "$status" -ne 0 ] && [ "$status" -ne 3 ]; then
  cat tmp/govulncheck.out >&2
  echo "govulncheck did not run (exit $status)" >&2
  exit 1
fi
found=$(sed -nE 's/^Vulnerability #[0-9]+: (GO-[0-9]+-[0-9]+).*/\1/p' tmp/govulncheck.out | sort -u)
new=""
for id in $found; do
  grep -qE "^$id " govulncheck.allow || new="$new $id"
done
if [ -n "$new" ]; then
  cat tmp/govulncheck.out >&2
  echo "new vulnerabilities in code AgentDesk calls:$new" >&2
  echo "review each; fix it, or add it to govulncheck.allow with the reason" >&2
  exit 1
fi
for id in $(grep -oE '^GO-[0-9]+-[0-9]+' govulncheck.allow); do
  grep -qx "$id" <<<"$found" || echo "   note: $id in govulncheck.allow is no longer reported; remove it"
done
echo "   $(wc -w <<<"$found") findings, all reviewed in govulncheck.allow"
