#!/usr/bin/env bash
# Runs each fuzz target (libFuzzer, through the libfuzzer-sys crate) for SECONDS (default 20),
# starting from the corpus committed in fuzz/corpus/<target>/ (read only: what a run finds goes to
# a temp dir). Built with the same coverage flags as `cargo fuzz`, but with plain cargo on stable
# Rust, so CI needs nothing more. A crash leaves its input in fuzz/artifacts/<target>/ and fails.
# `./run.sh SECONDS TARGET...` runs some targets only. With `--seed-shared`, more seeds are taken
# from ../shared (kept out of the repo) into the temp corpus.
set -euo pipefail
cd "$(dirname "$0")"
shared=no
if [ "${1:-}" = "--seed-shared" ]; then shared=yes; shift; fi
secs=${1:-20}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(parse subject diff query)
host=$(rustc -vV | sed -n 's/^host: //p')
export RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 -Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table -Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing -Cdebug-assertions -Coverflow-checks"
# --target keeps the coverage flags off build scripts and proc macros.
cargo build --quiet --release --locked --target "$host" --target-dir target --bins
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for t in "${targets[@]}"; do
  mkdir -p "$work/$t" "artifacts/$t"
  if [ "$shared" = yes ]; then ./seed.sh "$work"; fi
  echo "fuzz: $t for ${secs}s"
  "target/$host/release/$t" "$work/$t" "corpus/$t" -max_total_time="$secs" -rss_limit_mb=2048 -max_len=262144 \
    -timeout=10 -artifact_prefix="artifacts/$t/" -print_final_stats=1 2>"$work/$t.log" \
    || { tail -n 40 "$work/$t.log"; echo "fuzz: $t failed; the input is in fuzz/artifacts/$t/" >&2; exit 1; }
  grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "$work/$t.log" | sed "s/^/fuzz: $t: /"
done
