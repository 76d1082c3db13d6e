#!/usr/bin/env bash
# Benchmark of `validate` on 100× the national fleet (1,000 enterprises, 5,000 sites,
# 100,000 people), against serde-saphyr alone parsing the same file into untyped values.
# Prints wall times (best and median of 3) and each mode's peak RSS.
# Usage: bench/validate.sh [ENTERPRISES SITES PEOPLE_PER_ENTERPRISE]
set -euo pipefail
cd "$(dirname "$0")/.."
E=${1:-1000}; S=${2:-5}; P=${3:-100}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
cargo bench --bench validate --no-run -q 2>/dev/null
bin=$(ls -t "${CARGO_TARGET_DIR:-target}"/release/deps/validate-* | grep -v "\.d$" | head -n 1)
"$bin" gen "$E" "$S" "$P" "$out/fleet.yaml"
echo "fleet: $E enterprises, $((E * S)) sites, $((E * P)) people, $(du -h "$out/fleet.yaml" | cut -f1)"
for mode in parse validate; do
  /usr/bin/time -f "$mode: peak RSS %M KiB" "$bin" "$mode" "$out/fleet.yaml"
done
