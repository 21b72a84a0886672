#!/usr/bin/env bash
# The whole test suite, as CI runs it. Installs what it needs on a fresh Debian
# machine (Chromium for the browser tests), checks generated code and formatting,
# then runs every Go test, the browser tests included.
set -euo pipefail
cd "$(dirname "$0")/.."

export GOFLAGS="${GOFLAGS:-} -buildvcs=false"

# 1. Chromium from Debian's packages for the browser tests (never a downloaded build).
if ! command -v chromium >/dev/null 2>&1; then
  echo "== installing Chromium (Debian package)"
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
fi
export AGENTDESK_CHROMIUM="${AGENTDESK_CHROMIUM:-$(command -v chromium)}"

# 2. Generated templ code must be current: regenerate and fail on any difference.
echo "== templ generate"
go tool templ generate -path views >/dev/null
if ! git diff --quiet -- views; then
  echo "generated templ code is stale; run: go tool templ generate -path views" >&2
  git --no-pager diff --stat -- views >&2
  exit 1
fi

# 3. Formatting and vet.
echo "== gofmt, go vet"
unformatted=$(gofmt -l $(git ls-files '*.go'))
if [ -n "$unformatted" ]; then
  echo "gofmt would change: $unformatted" >&2
  exit 1
fi
go vet ./...

# 4. Tests, browser tests included (a missing browser fails them, it never skips).
echo "== go test"
mkdir -p e2e/artifacts
go test -count=1 -timeout 15m ./...

# 5. Fuzz targets for a bounded time each: the seed corpora also run in step 4.
echo "== fuzz (short)"
go test -run '^$' -fuzz '^FuzzSafeReturnTo$' -fuzztime 10s ./auth/
go test -run '^$' -fuzz '^FuzzFilter$' -fuzztime 10s ./emclient/
go test -run '^$' -fuzz '^FuzzDecode$' -fuzztime 10s ./emclient/
go test -run '^$' -fuzz '^FuzzParse$' -fuzztime 10s ./policy/
echo "== all tests passed"
