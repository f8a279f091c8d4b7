#!/usr/bin/env bash
# `seed.sh DIR` adds seeds from the real mail in ../shared (never copied into the repo) to the
# corpora under DIR/<target>/, for longer local runs: ./run.sh --seed-shared 300
set -euo pipefail
cd "$(dirname "$0")"
out=${1:?usage: seed.sh DIR}
shared=../../shared/corpus/patchwork-mail
for t in parse subject diff query; do mkdir -p "$out/$t"; done
[ -d "$shared" ] || exit 0
for f in "$shared"/mail/*.mbox "$shared"/fuzz/*.mbox "$shared"/series/*.mbox "$shared"/historical/*.mbox "$shared"/patches/*.patch; do
  [ -f "$f" ] || continue
  cp -f "$f" "$out/parse/$(basename "$f")"
  grep -m1 '^Subject:' "$f" | sed 's/^Subject: //' > "$out/subject/$(basename "$f")" || true
  cp -f "$f" "$out/diff/$(basename "$f")"
done
