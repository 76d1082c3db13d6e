#!/usr/bin/env bash
# Benchmark of `plan` on 100× the national fleet (1,000 enterprises, 5,000 sites,
# 100,000 people) against the embedded registry, next to serde-saphyr alone parsing the
# same file: "everything to create" (an empty registry) and "no changes" (a registry
# that holds the whole fleet, built once with the planned steps). Goal: plan ≤ 2× the
# parse, ≤ 1 GiB peak. Prints wall times (best and median of 3 runs in one process) and
# the peak RSS of one run in a process of its own (what one `csamctl plan` takes).
# Usage: bench/plan.sh [ENTERPRISES SITES PEOPLE_PER_ENTERPRISE]
set -euo pipefail
cd "$(dirname "$0")/.."
E=${1:-1000}; S=${2:-5}; P=${3:-100}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
cargo bench --bench plan --no-run -q 2>/dev/null
bin=$(ls -t "${CARGO_TARGET_DIR:-target}"/release/deps/plan-* | grep -v "\.d$" | head -n 1)
"$bin" gen "$E" "$S" "$P" "$out/fleet.yaml" "$out/reference.yaml"
echo "fleet: $E enterprises, $((E * S)) sites, $((E * P)) people, $(du -h "$out/fleet.yaml" | cut -f1)"
BENCH_RUNS=1 /usr/bin/time -f "parse: peak RSS %M KiB" "$bin" parse "$out/fleet.yaml" >/dev/null
"$bin" parse "$out/fleet.yaml"
"$bin" init "$out/reference.yaml" "$out/empty.db"
cp "$out/empty.db" "$out/full.db"
echo "everything to create:"
BENCH_RUNS=1 /usr/bin/time -f "plan (everything to create): peak RSS %M KiB" "$bin" plan "$out/fleet.yaml" "$out/empty.db" >/dev/null
"$bin" plan "$out/fleet.yaml" "$out/empty.db"
echo "building the full registry (setup, not timed as plan):"
/usr/bin/time -f "apply: %e s, peak RSS %M KiB" "$bin" apply "$out/fleet.yaml" "$out/full.db"
echo "no changes:"
BENCH_RUNS=1 /usr/bin/time -f "plan (no changes): peak RSS %M KiB" "$bin" plan "$out/fleet.yaml" "$out/full.db" >/dev/null
"$bin" plan "$out/fleet.yaml" "$out/full.db"
