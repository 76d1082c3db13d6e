#!/usr/bin/env bash
# The main job, from a fresh clone: build csamctl and apply examples/multi-campus.yaml
# (AZ VLASLAND VZW: 2 subdivisions, 5 sites, 44 fictional people) on the embedded
# registry, which is created on first use in .csamctl/registry.db with the examples'
# reference data, acting as its documented demo identity (the group's main access
# manager).
#
# New CSAM accounts need an initial password (S4: "Wachtwoord (eerste keer)"). The
# desired state never holds one: each person's entry names an environment variable
# (`password: { env: CSAM_PW_<NAME> }`). For this demo, examples/demo-passwords.sh makes
# a random throw-away password for each of them, held only in this process's environment
# and never shown; the demo registry stores none. Run it again: csamctl finds nothing
# left to do.
#
# Extra arguments go to `csamctl apply` (e.g. --format json).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=examples/demo-passwords.sh
. examples/demo-passwords.sh examples/multi-campus.yaml
exec cargo run --release --locked -- apply examples/multi-campus.yaml --auto-approve "$@"
