#!/usr/bin/env bash
# Soak of `apply` under faults: for each seed, a fresh registry served with
# --fault-rate 0.2 --fault-seed SEED, one single `apply`, then checks that it converged:
#   - the apply exited 0 (one run, no second try),
#   - `plan --detailed-exitcode` then finds no changes,
#   - no write applied twice (audit log: applied writes = distinct idempotency keys),
#   - no session left open and no lease left held by the acting person.
# Workloads (issue 12): a fleet of 10 enterprises × 3 sites × 20 people, and the
# 50-hospital onboarding of bench/apply.sh (50 × 3 × 40). The fleets come from the plan
# benchmark's generator (benches/fleet), as in bench/apply.sh.
#
# Usage: bench/fault-soak.sh [SEEDS] [WORKLOADS] [LATENCY_MS] [PROCESSING_MS]
#   SEEDS      how many seeds, 1..SEEDS (default 20)
#   WORKLOADS  "fleet,hospitals" (default both)
#   LATENCY_MS, PROCESSING_MS   the registry's knobs (default 5 and 200)
# CSAMCTL=path uses an already built binary (default: a release build).
# Prints one line per run and a summary per workload; exits 1 if any run did not converge.
set -euo pipefail
cd "$(dirname "$0")/.."
SEEDS=${1:-20}; WORKLOADS=${2:-fleet,hospitals}; LATENCY=${3:-5}; PROCESSING=${4:-200}
RATE=0.2
out=$(mktemp -d)
server_pid=
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; rm -rf "$out"; }
trap cleanup EXIT
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}
if [ -z "${CSAMCTL:-}" ]; then
  cargo build --release -q --locked --bin csamctl
  CSAMCTL="$CARGO_TARGET_DIR/release/csamctl"
fi
if [ -z "${FLEET_GEN:-}" ]; then
  cargo bench --bench plan --no-run -q --locked 2>/dev/null
  FLEET_GEN=$(ls -t "$CARGO_TARGET_DIR"/release/deps/plan-* | grep -v "\.d$" | head -n 1)
fi
actor="700101000$(printf %02d $((97 - 700101000 % 97)))"
export NO_COLOR=1 CSAM_ACTOR="$actor"
failed=0

# soak NAME E S P
soak() {
  local name=$1 dir="$out/$1"
  mkdir -p "$dir"
  "$FLEET_GEN" gen "$2" "$3" "$4" "$dir/fleet.yaml" "$dir/reference.yaml"
  for v in $(grep -o 'CSAM_PW_[0-9]*' "$dir/fleet.yaml" | sort -u); do export "$v=Fleet2026!x"; done
  local kbos; kbos=$(grep -o 'kbo: "[0-9]*"' "$dir/fleet.yaml" | grep -o '[0-9]*' | sort -u)
  echo "== $name: $2 enterprises × $3 sites × $4 people; --fault-rate $RATE --latency $LATENCY --processing-delay $PROCESSING" >&2
  local ok=0 times=()
  for seed in $(seq 1 "$SEEDS"); do
    local db="$dir/$seed.db"
    "$CSAMCTL" registry init --db "$db" --reference "$dir/reference.yaml" >/dev/null 2>&1
    "$CSAMCTL" registry token --db "$db" --insz "$actor" 2>/dev/null >"$dir/token"
    coproc SERVE { "$CSAMCTL" registry serve --db "$db" --listen 127.0.0.1:0 \
        --latency "$LATENCY" --processing-delay "$PROCESSING" \
        --fault-rate "$RATE" --fault-seed "$seed" 2>/dev/null; }
    server_pid=$SERVE_PID
    local line; read -r line <&"${SERVE[0]}"
    local url=${line#listening on }
    local start end code=0
    start=$(date +%s.%N)
    "$CSAMCTL" apply --auto-approve "$dir/fleet.yaml" --registry "$url" \
      --token-file "$dir/token" >"$dir/$seed.out" 2>&1 || code=$?
    end=$(date +%s.%N)
    kill "$server_pid" 2>/dev/null; wait "$server_pid" 2>/dev/null || true; server_pid=
    # The checks read the file directly (no faults).
    local file="file:$db" plan=0 sessions leases=0 twice
    "$CSAMCTL" plan --detailed-exitcode "$dir/fleet.yaml" --registry "$file" \
      --token-file "$dir/token" >/dev/null 2>&1 || plan=$?
    sessions=$("$CSAMCTL" sessions --registry "$file" --token-file "$dir/token" 2>&1 | grep -c '^s-' || true)
    for k in $kbos; do
      "$CSAMCTL" lease release --enterprise "$k" --registry "$file" --token-file "$dir/token" 2>&1 \
        | grep -q "nothing to release" || leases=$((leases + 1))
    done
    twice=$(python3 -c "
import sqlite3
c = sqlite3.connect('$db')
n, d = c.execute(\"SELECT count(*), count(DISTINCT idempotency_key) FROM audit WHERE outcome = 'ok' AND idempotency_key IS NOT NULL\").fetchone()
print(n - d)")
    local secs; secs=$(python3 -c "print('%.1f' % ($end - $start))")
    local verdict=converged
    if [ "$code" != 0 ] || [ "$plan" != 0 ] || [ "$sessions" != 0 ] || [ "$leases" != 0 ] || [ "$twice" != 0 ]; then
      verdict=FAILED; failed=1
      tail -5 "$dir/$seed.out" | sed 's/^/    /' >&2
    else
      ok=$((ok + 1)); times+=("$secs")
    fi
    echo "$name seed $seed: $verdict in $secs s (apply exit $code, plan exit $plan, $sessions session(s) and $leases lease(s) left, $twice write(s) applied twice)" >&2
    rm -f "$db" "$db"-wal "$db"-shm
  done
  python3 -c "
t = [float(x) for x in '${times[*]:-}'.split()]
print('$name: %d of $SEEDS converged in one apply' % $ok + (', %.1f–%.1f s (median %.1f s)' % (min(t), max(t), sorted(t)[len(t)//2]) if t else ''))" >&2
}

IFS=, read -ra wanted <<<"$WORKLOADS"
for w in "${wanted[@]}"; do
  case "$w" in
    fleet) soak fleet 10 3 20 ;;
    hospitals) soak hospitals 50 3 40 ;;
    *) echo "unknown workload $w (fleet, hospitals)" >&2; exit 1 ;;
  esac
done
exit "$failed"
