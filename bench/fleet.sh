# shellcheck shell=bash
# Shared by bench/plan.sh and bench/export.sh (sourced, not run): the 100× fleet and an
# embedded registry that holds it, and the environment that acts on it.
#
# fleet_setup E S P: builds csamctl and the bench binary in release mode and sets
# $csamctl, $bin (benches/plan.rs), $keep (the setup's directory) and $actor. The setup
# (not timed): the fleet, its reference data, the fleet as 10 files, and a registry
# holding it, made by carrying out its plan step by step (benches/plan.rs `apply`, a few
# minutes). With BENCH_KEEP=DIR the setup is kept in DIR and reused by the next run;
# else it goes in $out/setup. Exports CSAM_ACTOR, CSAM_TOKEN_FILE and CSAM_REGISTRY.
fleet_setup() {
  local E=$1 S=$2 P=$3
  export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}
  cargo build --release -q --locked --bin csamctl --bench plan
  csamctl="$CARGO_TARGET_DIR/release/csamctl"
  bin=$(ls -t "$CARGO_TARGET_DIR"/release/deps/plan-* | grep -v "\.d$" | head -n 1)
  keep=${BENCH_KEEP:-$out/setup}
  mkdir -p "$keep"
  actor="700101000$(printf %02d $((97 - 700101000 % 97)))"
  if [ ! -f "$keep/ready-$E-$S-$P" ]; then
    rm -rf "${keep:?}"/*
    "$bin" gen "$E" "$S" "$P" "$keep/fleet.yaml" "$keep/reference.yaml"
    mkdir "$keep/ten"
    "$bin" split "$keep/fleet.yaml" 10 "$keep/ten"
    "$bin" init "$keep/reference.yaml" "$keep/full.db"
    echo "building the registry that holds the fleet (setup, not timed):"
    /usr/bin/time -f "  setup apply: %e s, peak RSS %M KiB" "$bin" apply "$keep/fleet.yaml" "$keep/full.db"
    "$csamctl" registry token --db "$keep/full.db" --insz "$actor" 2>/dev/null >"$keep/token"
    touch "$keep/ready-$E-$S-$P"
  fi
  echo "fleet: $E enterprises, $((E * S)) sites, $((E * P)) people, $(du -h "$keep/fleet.yaml" | cut -f1) in one file; also as 10 files"
  export NO_COLOR=1 CSAM_ACTOR="$actor" CSAM_TOKEN_FILE="$keep/token" CSAM_REGISTRY="file:$keep/full.db"
  # A kept registry may hold a checkpoint of an older format: the first opening replays
  # the whole journal and writes one of this csamctl's format. Once, untimed, so that
  # every timed opening reads a checkpoint as users' registries do.
  "$bin" open "$keep/full.db" >/dev/null
}
