#!/usr/bin/env bash
# Runs each fuzz target for SECONDS (default 30) on stable Rust (RUSTC_BOOTSTRAP lets cargo-fuzz
# use the sanitizer flags). Needs `cargo install cargo-fuzz`.
set -euo pipefail
cd "$(dirname "$0")"
secs=${1:-30}
./seed.sh
for t in parse subject diff; do
  RUSTC_BOOTSTRAP=1 cargo fuzz run "$t" "corpus/$t" -- -max_total_time="$secs" -rss_limit_mb=2048 -max_len=262144
done
