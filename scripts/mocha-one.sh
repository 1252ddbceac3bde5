#!/usr/bin/env bash
# Runs only the given test files (mocha merges .mocharc.json's spec with file arguments).
exec npx mocha --no-config -n import=tsx -n openssl-legacy-provider --timeout 60000 "$@"
