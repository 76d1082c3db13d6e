#!/usr/bin/env bash
# Benchmark of `csamctl validate` on 100× the national fleet (1,000 enterprises, 5,000
# sites, 100,000 people, ~28.6 MB), next to the floor: the fastest of serde_yaml,
# saphyr and serde-saphyr parsing the same file into untyped values (bench/floor.sh).
#
# Goals (issue 15), each printed with its measured ratio:
#   validate, the fleet in one file:      ≤ 1.3× the floor
#   validate, the same fleet in 10 files: ≤ 1.0× the floor (of the one file)
#   peak memory ≤ 1 GiB.
# ROUNDS interleaved rounds (default 5) of: the three floor parsers, validate of one
# file, validate of ten files. Wall time and peak RSS per process; the machine's load
# is printed before and after.
# Usage: bench/validate.sh [ENTERPRISES SITES PEOPLE_PER_ENTERPRISE]
set -euo pipefail
cd "$(dirname "$0")/.."
E=${1:-1000}; S=${2:-5}; P=${3:-100}
ROUNDS=${ROUNDS:-5}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
. bench/floor.sh
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}
cargo build --release -q --locked --bin csamctl --bench plan
csamctl="$CARGO_TARGET_DIR/release/csamctl"
bin=$(ls -t "$CARGO_TARGET_DIR"/release/deps/plan-* | grep -v "\.d$" | head -n 1)
"$bin" gen "$E" "$S" "$P" "$out/fleet.yaml" "$out/reference.yaml"
mkdir "$out/ten"
"$bin" split "$out/fleet.yaml" 10 "$out/ten"
echo "fleet: $E enterprises, $((E * S)) sites, $((E * P)) people, $(du -h "$out/fleet.yaml" | cut -f1) in one file; also as 10 files"
export NO_COLOR=1
load
for round in $(seq "$ROUNDS"); do
  floors "$out/fleet.yaml"
  time_one validate-one "$csamctl" validate "$out/fleet.yaml"
  time_one validate-ten "$csamctl" validate "$out/ten"
done
load
echo "$ROUNDS interleaved rounds:"
report_floors
report validate-one "validate, one file" 1.3
report validate-ten "validate, 10 files" 1.0
