#!/usr/bin/env bash
# Benchmark of `apply` against its physical floor (issue 15, goal 4): onboarding 50
# hospitals × 3 sites × 40 people from empty against a served registry with
# --latency 20 --processing-delay 1000 (wall clock).
#
# The floor: every enterprise is a chain of rounds, and a round cannot end before one
# session has logged in, sent its writes (one batch request) and logged out, and the
# registry has processed it: rounds × (processing delay + 3 × request latency). The
# script also prints the plan's own bound (`plan --format json`, summary.apply_ms: the
# same floor with the request time plan measured, or every session's requests over the
# person's session limit when that is longer).
#
# Settings, run interleaved (one of each per round, every run on a fresh registry):
#   all at once   --parallelism 256, registry allowing 256 open sessions a person
#   default       --parallelism 8 (the default), registry at its default of 4 open
#                 sessions a person
#   serial        (with --serial) --parallelism 1, one session open at a time
# Goals: wall time ≤ 1.2× the floor for "all at once" and "default" (issue 15); the
# serial run compares with issue 5's "≥ 20× faster than --parallelism 1".
#
# The fleet and its reference data come from the plan benchmark's generator
# (benches/fleet: one validated HTB, the acting person, for every enterprise).
# Usage: bench/apply.sh [ENTERPRISES SITES PEOPLE_PER_ENTERPRISE] [--serial]
#   ROUNDS=N (default 3) runs of each setting.
set -euo pipefail
cd "$(dirname "$0")/.."
E=${1:-50}; S=${2:-3}; P=${3:-40}; SERIAL=${4:-}
ROUNDS=${ROUNDS:-3}
LATENCY=20; PROCESSING=1000
out=$(mktemp -d)
server_pid=
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; rm -rf "$out"; }
trap cleanup EXIT
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}
cargo build --release -q --locked --bin csamctl
cargo bench --bench plan --no-run -q --locked 2>/dev/null
csamctl="$CARGO_TARGET_DIR/release/csamctl"
gen=$(ls -t "$CARGO_TARGET_DIR"/release/deps/plan-* | grep -v "\.d$" | head -n 1)
"$gen" gen "$E" "$S" "$P" "$out/fleet.yaml" "$out/reference.yaml"
actor="700101000$(printf %02d $((97 - 700101000 % 97)))"
# Every person's password variable (CSAM_PW_<id>); one valid password for all.
for v in $(grep -o 'CSAM_PW_[0-9]*' "$out/fleet.yaml" | sort -u); do export "$v=Fleet2026!x"; done
export NO_COLOR=1 CSAM_ACTOR="$actor"
echo "fleet: $E enterprises × $S sites × $P people ($(grep -c 'username:' "$out/fleet.yaml") accounts)"
echo "registry: --latency $LATENCY --processing-delay $PROCESSING; $ROUNDS runs of each setting"
echo "load before: $(uptime)"

# run NAME PARALLELISM SESSIONS_PER_PERSON: appends "wall_s plan_bound_s rounds" to
# $out/NAME.times and keeps the apply's output in $out/NAME.out.
run() {
  local db="$out/$1.db"
  rm -f "$db"*
  "$csamctl" registry init --db "$db" --reference "$out/reference.yaml" >/dev/null 2>&1
  "$csamctl" registry token --db "$db" --insz "$actor" 2>/dev/null >"$out/token"
  coproc SERVE { "$csamctl" registry serve --db "$db" --listen 127.0.0.1:0 \
      --latency "$LATENCY" --processing-delay "$PROCESSING" \
      --sessions-per-person "$3" 2>/dev/null; }
  server_pid=$SERVE_PID
  local line; read -r line <&"${SERVE[0]}"
  local url=${line#listening on }
  "$csamctl" plan --format json "$out/fleet.yaml" --registry "$url" --token-file "$out/token" \
    >"$out/$1.plan.json" || true
  local start end
  start=$(date +%s.%N)
  "$csamctl" apply --auto-approve --parallelism "$2" "$out/fleet.yaml" --registry "$url" \
    --token-file "$out/token" >"$out/$1.out" 2>&1 || { tail -5 "$out/$1.out" >&2; }
  end=$(date +%s.%N)
  kill "$server_pid" 2>/dev/null; wait "$server_pid" 2>/dev/null || true; server_pid=
  python3 - "$out/$1.plan.json" "$end" "$start" >>"$out/$1.times" <<'PY'
import json, sys
plan = json.load(open(sys.argv[1]))
rounds = max(sum(1 for p in e["phases"] if p["phase"] == "sessions") for e in plan["enterprises"])
print(float(sys.argv[2]) - float(sys.argv[3]), plan["summary"]["apply_ms"] / 1000, rounds)
PY
  echo "  $1: $(grep -E "step\(s\) done" "$out/$1.out" | head -n 1) $(grep -E "^Took" "$out/$1.out")" >&2
}

settings=("all-at-once 256 256" "default 8 4")
[ "$SERIAL" = --serial ] && settings+=("serial 1 4")
for round in $(seq "$ROUNDS"); do
  echo "round $round" >&2
  for s in "${settings[@]}"; do
    # shellcheck disable=SC2086
    run $s
  done
done
echo "load after:  $(uptime)"

python3 - "$out" "$LATENCY" "$PROCESSING" "${settings[@]}" <<'PY'
import statistics, sys
out, latency, processing = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
medians = {}
for setting in sys.argv[4:]:
    name, parallelism, spp = setting.split()
    rows = [list(map(float, l.split())) for l in open(f"{out}/{name}.times")]
    walls = [r[0] for r in rows]
    bound = statistics.median(r[1] for r in rows)
    rounds = int(rows[0][2])
    floor = rounds * (processing + 3 * latency) / 1000
    med, low = statistics.median(walls), min(walls)
    medians[name] = med
    goal = "  (goal <= 1.2x)" if name != "serial" else ""
    print(f"{name:<12} --parallelism {parallelism:<3} {spp:>3} sessions/person: "
          f"median {med:6.2f} s, min {low:6.2f} s over {len(walls)} runs; "
          f"floor {rounds} x ({processing} + 3 x {latency} ms) = {floor:.2f} s: "
          f"{med / floor:.2f}x median, {low / floor:.2f}x min{goal}; "
          f"plan's bound {bound:.2f} s ({med / bound:.2f}x)")
if "serial" in medians:
    print(f"speed-up of all-at-once over serial: {medians['serial'] / medians['all-at-once']:.1f}x "
          "(issue 5's goal >= 20x)")
PY
