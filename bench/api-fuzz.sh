#!/usr/bin/env bash
# Fuzzing of the registry's HTTP API against its own OpenAPI document (issue 12): installs
# schemathesis in a virtual environment, serves a registry on 127.0.0.1 (the examples'
# reference data, a person token for a validated main access manager and the operator
# token), and runs schemathesis with every check twice: the person token against the
# person operations, the operator token against the operator surface. Any answer the
# document does not describe (a status, a header, a body, a 5xx, data the document
# forbids but the server takes) is a failure.
#
# Usage: bench/api-fuzz.sh [MAX_EXAMPLES]   (default 50 test cases per operation and phase)
# CSAMCTL=path uses an already built binary (default: a debug build);
# VENV=dir reuses a virtual environment (default target/api-fuzz-venv).
# Prints the counts per run and in total; exits 1 on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
EXAMPLES=${1:-50}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}
VENV=${VENV:-$CARGO_TARGET_DIR/api-fuzz-venv}
if [ -z "${CSAMCTL:-}" ]; then
  cargo build -q --locked --bin csamctl
  CSAMCTL="$CARGO_TARGET_DIR/debug/csamctl"
fi
if [ ! -x "$VENV/bin/schemathesis" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q 'schemathesis>=4.3,<5'
fi
"$VENV/bin/schemathesis" --version

out=$(mktemp -d)
server_pid=
cleanup() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; rm -rf "$out"; }
trap cleanup EXIT

db="$out/registry.db"
person=82120926312 # the validated main access manager of examples/reference.yaml
"$CSAMCTL" registry init --db "$db" --reference examples/reference.yaml >/dev/null
"$CSAMCTL" registry token --db "$db" --insz "$person" >"$out/token"
coproc SERVE { exec "$CSAMCTL" registry serve --db "$db" --listen 127.0.0.1:0 --virtual-clock 2>"$out/serve.err"; }
server_pid=$SERVE_PID
read -r line <&"${SERVE[0]}"
url=${line#listening on }
echo "serving $url"

# run NAME TOKEN TAG: schemathesis over the operations tagged TAG, counts from JUnit.
total_cases=0 total_failed=0 failed_runs=0
run() {
  # The string formats the document defines (insz, kbo), taught to schemathesis.
  export PYTHONPATH=bench SCHEMATHESIS_HOOKS=api_fuzz_hooks
  local name=$1 token=$2 tag=$3 code=0
  "$VENV/bin/schemathesis" --config-file bench/api-fuzz.toml run "$url/openapi.json" --checks all \
    --include-tag "$tag" --max-examples "$EXAMPLES" --seed 12 --workers 1 \
    -H "Authorization: Bearer $token" --request-timeout 30 \
    --report junit --report-junit-path "$out/$name.xml" \
    >"$out/$name.log" 2>&1 || code=$?
  local counts; counts=$(python3 - "$out/$name.xml" <<'EOF'
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
tests = sum(int(s.get("tests", 0)) for s in suites)
failed = sum(int(s.get("failures", 0)) + int(s.get("errors", 0)) for s in suites)
print(tests, failed)
EOF
)
  local ops=${counts% *} failed=${counts#* }
  local cases; cases=$(grep -Eo '[0-9]+ generated' "$out/$name.log" | tail -n 1 | grep -Eo '[0-9]+' || echo "?")
  echo "== $name token: $ops JUnit test suites, $cases test cases generated, $failed failed (schemathesis exit $code)"
  if [ "$code" != 0 ] || [ "$failed" != 0 ]; then
    failed_runs=$((failed_runs + 1))
    sed -n '/FAILURES/,$p' "$out/$name.log" | head -n 200
  else
    sed -n '/SUMMARY/,$p' "$out/$name.log"
  fi
  total_failed=$((total_failed + failed))
  if [ "$cases" != "?" ]; then total_cases=$((total_cases + cases)); fi
}

run person "$(cat "$out/token")" registry
run operator "$(tr -d '\n' <"$db.admin-token")" operator
echo "total: $total_cases test cases, $total_failed failed, $failed_runs of 2 runs failed"
[ "$failed_runs" = 0 ]
