#!/usr/bin/env bash
# The side-by-side benchmark behind BENCHMARKS.md (issue 17): builds the load
# tool once, then runs its `bench` mode, which pins the portal and each
# baseline to CPU 0 and the EM simulator, identity provider and load generator
# to CPU 1 (taskset) when the machine has two CPUs. Flags go to the benchmark,
# e.g. `scripts/bench.sh -quick` (checks the tool in ~20 s) or
# `scripts/bench.sh -duration 20s -list-load 90s`. The report (markdown) goes to
# stdout; progress and the load average before and after to stderr. Whole run
# with the defaults: 3–5 minutes, plus the build.
set -euo pipefail
cd "$(dirname "$0")/.."
dir="$(mktemp -d)"
trap 'rm -rf "$dir"' EXIT
if [ -d cmd/loadtest ]; then # the load tool as a command of its own
  go build -o "$dir/loadtest" ./cmd/loadtest
  run=("$dir/loadtest" bench)
else # the load tool as `agentdesk loadtest`
  go build -o "$dir/agentdesk" .
  run=("$dir/agentdesk" loadtest bench)
fi
echo "# scripts/bench.sh $*  (commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown))" >&2
echo "# before: $(uptime)" >&2
"${run[@]}" "$@"
echo "# after: $(uptime)" >&2
