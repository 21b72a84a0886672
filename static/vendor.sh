#!/usr/bin/env bash
# Re-vendor the npm-managed browser assets into static/ from the lockfile.
# Run after changing versions in package.json (then `npm install` once to
# refresh package-lock.json). Go builds never need npm: the copies are committed.
set -euo pipefail
cd "$(dirname "$0")/.."
npm ci --no-audit --no-fund
cp node_modules/htmx.org/dist/htmx.min.js static/htmx.min.js
cp node_modules/htmx.org/LICENSE static/htmx.LICENSE
# axe-core is for the browser tests only (e2e/a11y_test.go); it is never served.
cp node_modules/axe-core/axe.min.js e2e/testdata/axe.min.js
cp node_modules/axe-core/LICENSE e2e/testdata/axe.LICENSE
echo "vendored axe-core $(node -p 'require("./node_modules/axe-core/package.json").version') (tests only)"
echo "vendored htmx.org $(node -p 'require("./node_modules/htmx.org/package.json").version')"
