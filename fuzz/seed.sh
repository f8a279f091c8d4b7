#!/usr/bin/env bash
# Seeds the fuzz corpora from the real mail in ../shared (never copied into the repo) and from
# the sample archive quire ships.
set -euo pipefail
cd "$(dirname "$0")"
shared=../../shared/corpus/patchwork-mail
for t in parse subject diff; do mkdir -p "corpus/$t"; done
if [ -d "$shared" ]; then
  for f in "$shared"/mail/*.mbox "$shared"/fuzz/*.mbox "$shared"/series/*.mbox "$shared"/historical/*.mbox "$shared"/patches/*.patch; do
    cp -f "$f" "corpus/parse/$(basename "$f")"
    grep -m1 '^Subject:' "$f" | sed 's/^Subject: //' > "corpus/subject/$(basename "$f")" || true
    cp -f "$f" "corpus/diff/$(basename "$f")"
  done
fi
cp -f ../samples/*.mbox corpus/parse/
