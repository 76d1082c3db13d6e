#!/usr/bin/env bash
# Benchmark of `csamctl plan` with no changes on 100× the national fleet (1,000
# enterprises, 5,000 sites, 100,000 people, ~28.6 MB), against the embedded registry
# that holds the whole fleet, next to the floor: the fastest of serde_yaml, saphyr and
# serde-saphyr parsing the same file into untyped values (see bench/floor.sh).
#
# Goals (issue 15), each printed with its measured ratio:
#   1. plan, the fleet in one file:       ≤ 1.5× the floor
#   2. plan, the same fleet in 10 files:  ≤ 1.0× the floor (of the one file)
#   3. opening the registry:              ≤ 0.3 s (a checkpoint, not the whole journal)
#   5. peak memory ≤ 1 GiB.
# The runs are interleaved, ROUNDS rounds (default 5) of: the three floor parsers, plan
# of one file, plan of ten files, opening the registry. Wall time and peak RSS per
# process (/usr/bin/time); the machine's load is printed before and after.
#
# Setup (not timed, bench/fleet.sh): the fleet, its reference data, and a registry
# holding it, made by carrying out its plan step by step (benches/plan.rs `apply`, a few
# minutes). With BENCH_KEEP=DIR the setup is kept in DIR and reused by the next run.
# Usage: bench/plan.sh [ENTERPRISES SITES PEOPLE_PER_ENTERPRISE]
set -euo pipefail
cd "$(dirname "$0")/.."
E=${1:-1000}; S=${2:-5}; P=${3:-100}
ROUNDS=${ROUNDS:-5}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
. bench/floor.sh
. bench/fleet.sh
fleet_setup "$E" "$S" "$P"
load
for round in $(seq "$ROUNDS"); do
  floors "$keep/fleet.yaml"
  time_one plan-one "$csamctl" plan --detailed-exitcode "$keep/fleet.yaml"
  time_one plan-ten "$csamctl" plan --detailed-exitcode "$keep/ten"
  time_one open "$bin" open "$keep/full.db"
  cat "$out/open.out" >>"$out/open.seconds"
done
load
grep -q "No changes" "$out/plan-one.out" || { echo "plan found changes:"; tail -3 "$out/plan-one.out"; }
echo "$ROUNDS interleaved rounds:"
report_floors
report plan-one "plan, no changes, one file" 1.5
report plan-ten "plan, no changes, 10 files" 1.0
open_med=$(sort -n "$out/open.seconds" | awk '{ t[NR] = $1 } END { print t[int((NR + 1) / 2)] }')
open_min=$(sort -n "$out/open.seconds" | head -n 1)
printf '  %-34s median %6.3f s   min %6.3f s   goal ≤ 0.3 s: %s\n' "opening the registry" "$open_med" "$open_min" \
  "$(awk "BEGIN { print ($open_med <= 0.3) ? \"met\" : \"NOT met\" }")"
