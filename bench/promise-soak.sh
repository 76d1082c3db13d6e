#!/usr/bin/env bash
# Soak of the promise (issue 11): what `plan` accepts, `apply` completes; what it
# refuses, `apply` refuses the same way before any write. Runs the differential test's
# generator (tests/promise_differential.rs) for many more steps than `cargo test` does:
#   1. on the embedded registry (a real SQLite file, in-process), EMBEDDED_STEPS steps;
#   2. against `csamctl registry serve --fault-rate RATE --fault-seed SEED` on 127.0.0.1,
#      one served registry per sequence (fault seed = the sequence's seed), SERVED_STEPS
#      steps, CONCURRENCY sequences at a time (an injected 503 costs its 1 s
#      Retry-After, so sequences wait side by side).
# Each part prints one line of counts: steps, applied (and their writes), refusals by
# code, invalid edits, and broken promises (must be 0; the test fails otherwise and
# prints the first counter-example's story), then its time.
#
# Usage: bench/promise-soak.sh [EMBEDDED_STEPS] [SERVED_STEPS] [SEED] [RATE] [CONCURRENCY]
#   defaults: 20000 2000 1000000 0.2 24; PROMISE_STEPS (default 5) steps per sequence.
#   PROFILE=--release builds the test in release mode (faster steps, a long first build).
set -euo pipefail
cd "$(dirname "$0")/.."
EMBEDDED=${1:-20000}; SERVED=${2:-2000}; SEED=${3:-1000000}; RATE=${4:-0.2}; CONCURRENCY=${5:-24}
STEPS=${PROMISE_STEPS:-5}
PROFILE=${PROFILE:-}
export PROMISE_STEPS=$STEPS
# A sequence is one start step plus STEPS edit steps.
sequences() { echo $(( ($1 + STEPS) / (STEPS + 1) )); }

soak() { # NAME TEST-FILTER STEPS ENV...
  local name=$1 filter=$2 steps=$3; shift 3
  local start end log
  log=$(mktemp)
  echo "== $name: $(sequences "$steps") sequences × $((STEPS + 1)) steps, seed $SEED" >&2
  start=$(date +%s.%N)
  if ! env PROMISE_SEED="$SEED" PROMISE_SEQUENCES="$(sequences "$steps")" "$@" \
      cargo test $PROFILE -q --locked --test promise_differential -- \
      --ignored --exact "$filter" --nocapture >"$log" 2>&1; then
    cat "$log" >&2; rm -f "$log"; return 1
  fi
  end=$(date +%s.%N)
  grep -E '^promise' "$log" >&2 || true
  rm -f "$log"
  echo "$name: $(awk "BEGIN { printf \"%.1f\", $end - $start }") s" >&2
}

cargo test $PROFILE -q --locked --test promise_differential --no-run 2>/dev/null
soak embedded soak_what_plan_accepts_apply_completes "$EMBEDDED"
soak "served --fault-rate $RATE" soak_served_what_plan_accepts_apply_completes "$SERVED" \
  PROMISE_FAULT_RATE="$RATE" PROMISE_CONCURRENCY="$CONCURRENCY"
