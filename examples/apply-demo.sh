#!/usr/bin/env bash
# The main job, from a fresh clone: build csamctl and apply examples/multi-campus.yaml
# (AZ VLASLAND VZW: 2 subdivisions, 5 sites, 44 fictional people) on the embedded
# registry, which is created on first use in .csamctl/registry.db with the examples'
# reference data, acting as its documented demo identity (the group's main access
# manager).
#
# New CSAM accounts need an initial password (S4: "Wachtwoord (eerste keer)"). The
# desired state never holds one: each person's entry names an environment variable
# (`password: { env: CSAM_PW_<NAME> }`). For this demo, a random throw-away password is
# made for each of them here, held only in this process's environment and never shown;
# the demo registry stores none. Run it again: csamctl finds nothing left to do.
#
# Extra arguments go to `csamctl apply` (e.g. --format json).
set -euo pipefail
cd "$(dirname "$0")/.."
for var in $(grep -o 'CSAM_PW_[A-Z_]*' examples/multi-campus.yaml | sort -u); do
  # 12 characters: 2 letters, 8 hex digits, "!" and a digit (the manual's rules).
  export "$var=Dm$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')!7"
done
exec cargo run --release --locked -- apply examples/multi-campus.yaml --auto-approve "$@"
