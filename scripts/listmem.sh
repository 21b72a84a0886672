#!/bin/sh
# listmem.sh: time and peak memory of one 10,000-job list refresh, three ways
# against the same EM simulator (its own process) in one run:
#   floor  fetch + decode into minimal structs (plain net/http + encoding/xml)
#   before every job decoded into the full model (the list until this change)
#   after  jobs.Service.List: emclient's streaming row decoder
# Each way runs in its own process under /usr/bin/time -v, so MaxRSS is that
# way's alone. Usage: scripts/listmem.sh [jobs] (default 10000; the test
# expects 10000).
set -eu
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'kill "$sim" 2>/dev/null || true; rm -rf "$tmp"' EXIT
go build -o "$tmp/agentdesk" .
go test -c -o "$tmp/jobs.test" ./jobs/
addr=127.0.0.1:${LISTMEM_PORT:-19417}
"$tmp/agentdesk" emsim -addr "$addr" -tls=false -jobs "${1:-10000}" >"$tmp/emsim.log" 2>&1 &
sim=$!
until grep -q "URL:" "$tmp/emsim.log" 2>/dev/null; do
	kill -0 "$sim" || { cat "$tmp/emsim.log"; exit 1; }
	sleep 0.2
done
for way in ${LISTMEM_WAYS:-floor before after}; do
	AGENTDESK_BENCH_EM="http://$addr" AGENTDESK_MEASURE_LIST=$way \
		/usr/bin/time -v "$tmp/jobs.test" -test.run '^TestMeasureListRefresh$' -test.count=1 2>"$tmp/time.$way" | grep '^list-refresh' || { cat "$tmp/time.$way"; exit 1; }
	awk '/Maximum resident set size/ {rss=$NF/1024} /User time/ {u=$NF} /System time/ {s=$NF} END {printf "  MaxRSS-MB=%.1f cpu-seconds=%.2f\n", rss, u+s}' "$tmp/time.$way"
done
