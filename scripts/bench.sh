#!/usr/bin/env bash
# The side-by-side benchmark behind BENCHMARKS.md (issue 17): builds the binary
# once, then runs `agentdesk loadtest bench`, which pins the portal and each
# baseline to CPU 0 and the EM simulator, identity provider and load generator
# to CPU 1 (taskset) when the machine has two CPUs. Flags go to the benchmark,
# e.g. `scripts/bench.sh -quick` (checks the tool in ~20 s) or
# `scripts/bench.sh -duration 20s -list-load 90s`. The report (markdown) goes to
# stdout; progress to stderr. Whole run with the defaults: ≈ 4–6 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
bin="$(mktemp -d)/agentdesk"
trap 'rm -rf "$(dirname "$bin")"' EXIT
go build -o "$bin" .
echo "# scripts/bench.sh $*  (commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown))" >&2
echo "# before: $(uptime)" >&2
"$bin" loadtest bench "$@"
echo "# after: $(uptime)" >&2
