#!/usr/bin/env bash
# Benchmark of `csamctl export` of 100× the national fleet (1,000 enterprises, 5,000
# sites, 100,000 people, ~29 MB of YAML written) from the embedded registry that holds
# it, and of what its self-check costs: before writing, export loads the text with the
# real loader (parse and validation of the bytes written, the enterprises already
# rendered while the rest is read).
#
# Goal (issue 15, goal 5): the self-check ≤ 20 % of export's time; peak memory ≤ 1 GiB.
# What the check adds is measured as export against the same export with
# `--skip-self-check` (a hidden flag, for this measurement only: the file written is the
# same, which the script checks), interleaved, ROUNDS rounds (default 5); the share is
# (export − export without the check) / export, of the medians and of the minimums.
# With BASELINE=/path/to/an/older/csamctl its export is timed in the same rounds.
#
# Setup (not timed): as bench/plan.sh (bench/fleet.sh; BENCH_KEEP=DIR reuses it).
# Usage: bench/export.sh [ENTERPRISES SITES PEOPLE_PER_ENTERPRISE]
set -euo pipefail
cd "$(dirname "$0")/.."
E=${1:-1000}; S=${2:-5}; P=${3:-100}
ROUNDS=${ROUNDS:-5}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
. bench/floor.sh
. bench/fleet.sh
fleet_setup "$E" "$S" "$P"
read -ra kbos <<<"$(grep -oE '^  - kbo: "[0-9.]+"' "$keep/fleet.yaml" | cut -d'"' -f2 | tr '\n' ' ')"
load
for _ in $(seq "$ROUNDS"); do
  time_one export "$csamctl" export --enterprise "${kbos[@]}" --out "$out/checked.yaml"
  time_one unchecked "$csamctl" export --skip-self-check --enterprise "${kbos[@]}" --out "$out/unchecked.yaml"
  if [ -n "${BASELINE:-}" ]; then
    time_one baseline "$BASELINE" export --enterprise "${kbos[@]}" --out "$out/baseline.yaml"
  fi
done
load
if ! cmp -s <(grep -v '^# Exported by' "$out/checked.yaml") <(grep -v '^# Exported by' "$out/unchecked.yaml"); then
  echo "export wrote another file without the check" >&2
  exit 1
fi
if grep -q "does not validate" "$out/export.err"; then
  echo "the exported file does not validate:" >&2
  grep "does not validate" "$out/export.err" >&2
fi
echo "$ROUNDS interleaved rounds, $(du -h "$out/checked.yaml" | cut -f1) written:"
line() { printf '  %-34s median %6.2f s   min %6.2f s   peak %5d MiB\n' "$1" "$2" "$3" "$4"; }
read -r med min peak <<<"$(stats export)"
line "export of $E enterprises" "$med" "$min" "$peak"
read -r umed umin upeak <<<"$(stats unchecked)"
line "export without its self-check" "$umed" "$umin" "$upeak"
if [ -n "${BASELINE:-}" ]; then
  read -r bmed bmin bpeak <<<"$(stats baseline)"
  line "export, baseline" "$bmed" "$bmin" "$bpeak"
fi
share=$(awk "BEGIN { printf \"%.0f\", 100 * ($med - $umed) / $med }")
share_min=$(awk "BEGIN { printf \"%.0f\", 100 * ($min - $umin) / $min }")
printf '    the self-check: %s %% of export (medians), %s %% (minimums); goal ≤ 20 %%: %s\n' \
  "$share" "$share_min" "$(awk "BEGIN { print ($share <= 20) ? \"met\" : \"NOT met\" }")"
if [ "$peak" -gt 1024 ]; then echo "    peak memory above the 1 GiB goal"; fi
