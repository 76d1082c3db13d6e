#!/usr/bin/env bash
# Benchmark of `apply`: onboarding 50 hospitals × 3 sites × 40 people from empty against a
# served registry with --latency 20 --processing-delay 1000 (wall clock).
#
# Every run starts from a fresh registry file. For each run it prints the wall time of
# the whole `apply` (reading, leases, planning, executing, report) and the plan's own
# lower bound on it (`plan --format json`, summary.apply_ms: the critical path —
# barriers × processing delay + requests on the longest chain × the measured request
# time — or every session's requests over the sessions-per-person limit, if longer).
#
# Runs:
#   all at once   --parallelism 256, registry allowing 256 open sessions a person
#   default       --parallelism 8 (the default), same registry
#   person cap    --parallelism 256, registry at its default of 4 open sessions a person
#   serial        --parallelism 1 (one session at a time, each until processed)
# Goals (issue 5): all-at-once ≤ 1.2× the plan's bound, and ≥ 20× faster than serial.
#
# The fleet and its reference data come from the plan benchmark's generator
# (benches/fleet: one validated HTB, the acting person, for every enterprise).
# Usage: bench/apply.sh [ENTERPRISES SITES PEOPLE_PER_ENTERPRISE] [--quick]
#   --quick skips the serial run (about 9 minutes).
set -euo pipefail
cd "$(dirname "$0")/.."
E=${1:-50}; S=${2:-3}; P=${3:-40}; QUICK=${4:-}
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
echo "registry: --latency $LATENCY --processing-delay $PROCESSING"

# run NAME PARALLELISM SESSIONS_PER_PERSON: prints "wall_s bound_s request_ms"
run() {
  local db="$out/$1.db"
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
  grep -E "step\(s\) done|^Took" "$out/$1.out" >&2 || true
  python3 -c "
import json
s = json.load(open('$out/$1.plan.json'))['summary']
print($end - $start, s['apply_ms'] / 1000, s['request_ms'])
"
}

report() { # NAME PARALLELISM SPP
  read -r wall bound request < <(run "$1" "$2" "$3")
  python3 -c "print('%-12s --parallelism %-3s  %3s sessions/person  %7.2f s   plan bound %6.2f s (%s ms/request)   %.2fx the bound' % ('$1', '$2', '$3', $wall, $bound, '$request', $wall / $bound))" >&2
  echo "$wall"
}

all=$(report all-at-once 256 256)
report default 8 256 >/dev/null
report person-cap 256 4 >/dev/null
if [ -z "$QUICK" ]; then
  serial=$(report serial 1 256)
  python3 -c "print('speed-up of all-at-once over serial: %.1fx (goal >= 20x)' % ($serial / $all))" >&2
fi
