# Shared by bench/plan.sh and bench/validate.sh (sourced, not run): timing commands in
# separate processes, interleaved round by round with the floor parsers, and the
# ratios to the fastest floor (issue 15).
#
# The floor: the fastest of three programs that only parse the same file into untyped
# values — serde_yaml → Value, saphyr's tree loader, serde-saphyr → Value — each one
# process, built in release mode beside csamctl (benches/plan.rs, mode `floor`), and
# each run under both allocators: the system's (glibc) and mimalloc, the one csamctl
# uses (benches/fleet/alloc.rs). The floor is the fastest of the six, so csamctl's
# allocator gives it nothing the floor is denied.
# Each round runs every program once, in the same order, so that a change in the
# machine's load hits all of them alike; medians and minimums over the rounds.

# time_one NAME COMMAND...: one run; appends "seconds peak-KiB" to $out/NAME.times.
time_one() {
  local name=$1
  shift
  if ! /usr/bin/time -f "%e %M" -o "$out/time" "$@" >"$out/$name.out" 2>"$out/$name.err"; then
    echo "$name failed:" >&2
    tail -5 "$out/$name.err" >&2
    exit 1
  fi
  tail -n 1 "$out/time" >>"$out/$name.times"
}

FLOOR_PARSERS="serde_yaml saphyr serde-saphyr"
FLOOR_ALLOCATORS="system mimalloc"

# floors FILE: one run of each floor parser on FILE, under each allocator.
floors() {
  for p in $FLOOR_PARSERS; do
    for a in $FLOOR_ALLOCATORS; do
      BENCH_ALLOCATOR=$a time_one "floor-$p-$a" "$bin" floor "$p" "$1"
    done
  done
}

# stats NAME: "median minimum peak-MiB" of NAME's runs.
stats() {
  sort -n -k1 "$out/$1.times" |
    awk '{ t[NR] = $1; if ($2 > m) m = $2 } END { printf "%.2f %.2f %d", t[int((NR + 1) / 2)], t[1], m / 1024 }'
}

# report_floors: prints each floor parser and sets $floor (the fastest median) and
# $floor_min (the fastest minimum).
report_floors() {
  floor=
  floor_min=
  for p in $FLOOR_PARSERS; do
    for a in $FLOOR_ALLOCATORS; do
      read -r med min peak <<<"$(stats "floor-$p-$a")"
      printf '  %-34s median %6.2f s   min %6.2f s   peak %5d MiB\n' "floor: $p, $a" "$med" "$min" "$peak"
      if [ -z "$floor" ] || awk "BEGIN { exit !($med < $floor) }"; then floor=$med; fi
      if [ -z "$floor_min" ] || awk "BEGIN { exit !($min < $floor_min) }"; then floor_min=$min; fi
    done
  done
  echo "  floor (fastest parser and allocator): median $floor s, min $floor_min s"
}

# report NAME LABEL GOAL: NAME's times and its ratios to the floor, against GOAL.
report() {
  read -r med min peak <<<"$(stats "$1")"
  local ratio ratio_min verdict
  ratio=$(awk "BEGIN { printf \"%.2f\", $med / $floor }")
  ratio_min=$(awk "BEGIN { printf \"%.2f\", $min / $floor_min }")
  verdict=$(awk "BEGIN { print ($ratio <= $3) ? \"met\" : \"NOT met\" }")
  printf '  %-34s median %6.2f s   min %6.2f s   peak %5d MiB\n' "$2" "$med" "$min" "$peak"
  printf '    ratio to the floor: %s× (medians), %s× (minimums); goal ≤ %s×: %s\n' \
    "$ratio" "$ratio_min" "$3" "$verdict"
  if [ "$peak" -gt 1024 ]; then echo "    peak memory above the 1 GiB goal"; fi
}

load() { echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"; }
