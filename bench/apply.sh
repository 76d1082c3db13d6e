#!/usr/bin/env bash
# Benchmark of `apply`: onboarding 50 hospitals × 3 sites × 40 people from empty against a
# served registry with --latency 20 --processing-delay 1000 (wall clock), at the default
# --parallelism 8 and at --parallelism 1. Prints wall times, the plan's critical-path
# lower bound (barriers × processing delay + requests on the longest chain × latency,
# from `plan --format json`'s estimate), and the ratios. Goals: ≤ 1.2× the lower bound,
# ≥ 20× faster than --parallelism 1.
# The fleet and its reference data come from the plan benchmark's generator
# (benches/plan.rs `gen`: one HTB, validated, for every enterprise).
# Usage: bench/apply.sh [ENTERPRISES SITES PEOPLE_PER_ENTERPRISE] [--skip-serial]
set -euo pipefail
cd "$(dirname "$0")/.."
E=${1:-50}; S=${2:-3}; P=${3:-40}; SKIP_SERIAL=${4:-}
LATENCY=20; PROCESSING=1000
out=$(mktemp -d)
server_pid=
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; rm -rf "$out"; }
trap cleanup EXIT
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}
cargo build --release -q --bin csamctl
cargo bench --bench plan --no-run -q 2>/dev/null
csamctl="$CARGO_TARGET_DIR/release/csamctl"
gen=$(ls -t "$CARGO_TARGET_DIR"/release/deps/plan-* | grep -v "\.d$" | head -n 1)
"$gen" gen "$E" "$S" "$P" "$out/fleet.yaml" "$out/reference.yaml"
actor="700101000$(printf %02d $((97 - 700101000 % 97)))"
# Every person's password variable (CSAM_PW_<id>); one valid password for all.
for v in $(grep -o 'CSAM_PW_[0-9]*' "$out/fleet.yaml" | sort -u); do export "$v=Fleet2026!x"; done
export NO_COLOR=1 CSAM_ACTOR="$actor"
echo "fleet: $E enterprises × $S sites × $P people ($(grep -c 'username:' "$out/fleet.yaml") accounts)"

run() { # $1 = parallelism; prints the wall time in seconds
  local db="$out/p$1.db"
  "$csamctl" registry init --db "$db" --reference "$out/reference.yaml" >/dev/null 2>&1
  "$csamctl" registry token --db "$db" --insz "$actor" 2>/dev/null >"$out/token"
  coproc SERVE { "$csamctl" registry serve --db "$db" --listen 127.0.0.1:0 \
      --latency "$LATENCY" --processing-delay "$PROCESSING" 2>/dev/null; }
  server_pid=$SERVE_PID
  local line; read -r line <&"${SERVE[0]}"
  local url=${line#listening on }
  if [ "$1" = 8 ]; then
    "$csamctl" plan --format json "$out/fleet.yaml" --registry "$url" --token-file "$out/token" \
      >"$out/plan.json" || true
  fi
  local start end
  start=$(date +%s.%N)
  "$csamctl" apply --auto-approve --parallelism "$1" "$out/fleet.yaml" --registry "$url" \
    --token-file "$out/token" >"$out/apply$1.out" 2>&1 || { tail -5 "$out/apply$1.out" >&2; }
  end=$(date +%s.%N)
  kill "$server_pid" 2>/dev/null; wait "$server_pid" 2>/dev/null || true; server_pid=
  grep "step(s) done" "$out/apply$1.out" >&2 || true
  echo "$end - $start" | bc
}

parallel=$(run 8)
# Lower bounds from the plan's phases: each session costs (steps + log-in + log-out)
# requests × latency; each phase of sessions ends with a processing delay. The critical
# path takes the longest session of every phase of the longest chain; with one person's
# sessions-per-person limit (4, the engine's default) the total session time / 4 bounds
# it too. The larger of the two is the bound the run is compared with.
read -r crit slots < <(python3 -c "
import json
d = json.load(open('$out/plan.json'))
L, P, spp = $LATENCY, $PROCESSING, 4
crit = total = 0
for e in d['enterprises']:
    t = 0
    for ph in e['phases']:
        if ph['phase'] != 'sessions':
            continue
        t += max(len(s['steps']) + 2 for s in ph['sessions']) * L + P
        total += sum((len(s['steps']) + 2) * L for s in ph['sessions'])
    crit = max(crit, t)
print(crit / 1000, total / 1000 / spp)
")
bound=$(python3 -c "print(max($crit, $slots))")
echo "apply --parallelism 8: ${parallel} s"
echo "critical path: ${crit} s; session-limit bound (4 sessions per person): ${slots} s"
python3 -c "print('ratio to the lower bound (%s s): %.2f× (goal ≤ 1.2×)' % ($bound, $parallel/max($bound,0.001)))"
if [ -z "$SKIP_SERIAL" ]; then
  serial=$(run 1)
  echo "apply --parallelism 1: ${serial} s"
  python3 -c "print('speed-up: %.1f× (goal ≥ 20×)' % ($serial/$parallel))"
fi
