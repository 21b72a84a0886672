#!/usr/bin/env bash
# Re-vendor the npm-managed browser assets into static/ from the lockfile.
# Run after changing versions in package.json (then `npm install` once to
# refresh package-lock.json). Go builds never need npm: the copies are committed.
set -euo pipefail
cd "$(dirname "$0")/.."
npm ci --no-audit --no-fund
cp node_modules/htmx.org/dist/htmx.min.js static/htmx.min.js
cp node_modules/htmx.org/LICENSE static/htmx.LICENSE
echo "vendored htmx.org $(node -p 'require("./node_modules/htmx.org/package.json").version')"
