#!/usr/bin/env bash
# Benchmark of the registry served over HTTP (issue 3, item 9): writes per second with
# concurrent sessions through `csamctl registry serve`, and the export of an enterprise
# of 100,000 users (whole tree in one request, and paged). Goals on the 2-core machine:
# >= 2,000 writes/s; 100,000 users exported in <= 2 s.
# Usage: bench/registry.sh [--users N] [--sites N] [--writes N] [--sessions N]
set -euo pipefail
cd "$(dirname "$0")/.."
cargo bench --bench registry -- "$@"
