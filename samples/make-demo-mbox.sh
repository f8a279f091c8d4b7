#!/usr/bin/env bash
# Writes samples/demo.mbox: a small list archive made with real `git format-patch`, for the
# README's first command and for tests. Deterministic: fixed dates and identities.
# It holds: a 3-patch series with a cover letter (v1), reviews with trailers, a v2 of it sent as a
# new thread, a lone patch, a pull request and a plain discussion.
# Usage: make-demo-mbox.sh [OUT_MBOX [REPO_DIR]]: REPO_DIR receives the git repository the patches
# were made in (branch main = the base they apply to), for tests that `git am` them.
set -euo pipefail
out="${1:-$(cd "$(dirname "$0")" && pwd)/demo.mbox}"
case "$out" in /*) ;; *) out="$PWD/$out" ;; esac
keep="${2:-}"
case "$keep" in ""|/*) ;; *) keep="$PWD/$keep" ;; esac
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
export GIT_CONFIG_NOSYSTEM=1 HOME="$tmp"
git init -q -b main demo && cd demo
git config user.name "Ada Lovelace"; git config user.email "ada@example.org"
c() { GIT_AUTHOR_DATE="$1" GIT_COMMITTER_DATE="$1" git commit -qam "$2" ${3:+-m "$3"}; }
mkdir -p include/public src
cat > include/public/ring.h <<'EOF'
#include <stdint.h>
typedef uint64_t uint64_aligned_t __attribute__((aligned(8)));
struct ring_desc {
    uint32_t id;
    uint32_t flags;
    uint64_t addr;
    uint64_aligned_t len;
    uint32_t next;
};
EOF
printf 'int ring_init(void) { return 0; }\n' > src/ring.c
printf 'demo: a tiny ring library\n' > README
git add -A; c "2024-03-01T10:00:00Z" "Initial import"
base=$(git rev-parse HEAD)
git checkout -q -b v1
sed -i 's/return 0;/return ring_setup();/' src/ring.c
printf 'int ring_setup(void) { return 0; }\n' >> src/ring.c
c "2024-03-04T09:00:00Z" "ring: add ring_setup helper" "Split the setup out of ring_init so that callers can reuse it.

Signed-off-by: Ada Lovelace <ada@example.org>"
sed -i 's/uint32_t next;/uint32_t next;\n    uint32_t pad;/' include/public/ring.h
c "2024-03-04T09:01:00Z" "public/ring: make the descriptor padding explicit" "No functional change expected.

Signed-off-by: Ada Lovelace <ada@example.org>"
printf 'ring: see include/public/ring.h\n' >> README
c "2024-03-04T09:02:00Z" "README: point at the public header" "Signed-off-by: Ada Lovelace <ada@example.org>"
git format-patch -q --cover-letter --thread --base="$base" -o ../v1 "$base"..v1
# v2: the same patches, the header change reworked after review.
git checkout -q -b v2 "$base"
GIT_COMMITTER_DATE="2024-03-11T09:00:00Z" git cherry-pick v1~2 >/dev/null
sed -i 's/uint64_aligned_t len;/uint64_t len;/' include/public/ring.h
c "2024-03-11T09:01:00Z" "public/ring: use plain uint64_t for the length" "No functional change expected.

Signed-off-by: Ada Lovelace <ada@example.org>"
GIT_COMMITTER_DATE="2024-03-11T09:02:00Z" git cherry-pick v1 >/dev/null
git format-patch -q -v2 --cover-letter --thread --base="$base" -o ../v2 "$base"..v2
git checkout -q -b lone "$base"
printf 'int ring_fini(void) { return 0; }\n' >> src/ring.c
GIT_AUTHOR_NAME="Grace Hopper" GIT_AUTHOR_EMAIL="grace@example.net" c "2024-03-06T15:00:00Z" "ring: add ring_fini" "Signed-off-by: Grace Hopper <grace@example.net>"
git format-patch -q -o ../lone "$base"..lone
cd ..
python3 - "$out" <<'PY'
import email.utils, glob, re, sys
out = sys.argv[1]
LIST = "List-Id: Demo development list <demo.lists.example.org>\nTo: demo@lists.example.org\n"
def fix(path, date, msgid, irt=None, frm=None, cover=None):
    text = open(path).read()
    head, body = text.split("\n\n", 1)
    head = re.sub(r"^From [0-9a-f]+ .*\n", "", head)
    head = re.sub(r"^Date: .*$", "Date: " + date, head, flags=re.M)
    head = re.sub(r"^Message-Id: .*$", "Message-Id: <%s>" % msgid, head, flags=re.M | re.I)
    head = re.sub(r"^(In-Reply-To|References): .*\n", "", head, flags=re.M | re.I)
    if not re.search(r"^Message-Id: ", head, flags=re.M | re.I):
        head += "\nMessage-Id: <%s>" % msgid
    if irt:
        head += "\nIn-Reply-To: <%s>\nReferences: <%s>" % (irt, irt)
    if frm:
        head = re.sub(r"^From: .*$", "From: " + frm, head, flags=re.M)
    if cover:
        head = re.sub(r"\*\*\* SUBJECT HERE \*\*\*", cover[0], head)
        body = body.replace("*** BLURB HERE ***", cover[1])
    return head + "\n" + LIST + "\n" + body
msgs = []
def d(day, hh, mm):
    return "%s, %02d Mar 2024 %02d:%02d:00 +0000" % (["Fri","Sat","Sun","Mon","Tue","Wed","Thu"][(day - 1) % 7], day, hh, mm)
v1 = sorted(glob.glob("v1/*.patch")); v2 = sorted(glob.glob("v2/*.patch"))
cov1 = ("ring: setup helper and public header cleanup",
        "This series splits ring setup out of ring_init and tidies the public\nring descriptor header.")
msgs.append(fix(v1[0], d(4, 9, 5), "v1-0@example.org", cover=cov1))
for i, p in enumerate(v1[1:], 1):
    msgs.append(fix(p, d(4, 9, 5 + i), "v1-%d@example.org" % i, irt="v1-0@example.org"))
def reply(msgid, irt_chain, frm, date, subject, text):
    refs = " ".join("<%s>" % r for r in irt_chain)
    return ("From: %s\nTo: demo@lists.example.org\nSubject: %s\nDate: %s\nMessage-Id: <%s>\n"
            "In-Reply-To: <%s>\nReferences: %s\n%s\n%s" % (frm, subject, date, msgid, irt_chain[-1], refs,
            LIST.split("\n")[0], text))
msgs.append(reply("r1@example.com", ["v1-0@example.org", "v1-1@example.org"], "Charles Babbage <charles@example.com>", d(5, 8, 0),
    "Re: [PATCH 1/3] ring: add ring_setup helper",
    "On Mon, Mar 04, 2024, Ada Lovelace wrote:\n> Split the setup out of ring_init so that callers can reuse it.\n>\n> Signed-off-by: Ada Lovelace <ada@example.org>\n\nLooks good.\n\nReviewed-by: Charles Babbage <charles@example.com>\n\n-- \nCharles\n"))
msgs.append(reply("r2@example.com", ["v1-0@example.org", "v1-2@example.org"], "Charles Babbage <charles@example.com>", d(5, 8, 10),
    "Re: [PATCH 2/3] public/ring: make the descriptor padding explicit",
    "> No functional change expected.\n\nThis changes the size of struct ring_desc on every architecture.\nPlease drop it, or say why the ABI may change.\n"))
msgs.append(reply("r3@example.org", ["v1-0@example.org", "v1-2@example.org", "r2@example.com"], "Ada Lovelace <ada@example.org>", d(5, 12, 0),
    "Re: [PATCH 2/3] public/ring: make the descriptor padding explicit",
    "On Tue, Mar 05, 2024, Charles Babbage wrote:\n> This changes the size of struct ring_desc on every architecture.\n> Please drop it, or say why the ABI may change.\n\nRight, I will rework it for v2.\n"))
msgs.append(reply("r4@example.net", ["v1-0@example.org"], "Grace Hopper <grace@example.net>", d(6, 10, 0),
    "Re: [PATCH 0/3] ring: setup helper and public header cleanup",
    "For the series:\n\nAcked-by: Grace Hopper <grace@example.net>\n"))
cov2 = ("ring: setup helper and public header cleanup",
        "This series splits ring setup out of ring_init and tidies the public\nring descriptor header.\n\nChanges in v2:\n- patch 2: keep the layout, change only the length type (Charles)")
msgs.append(fix(v2[0], d(11, 9, 5), "v2-0@example.org", cover=cov2))
for i, p in enumerate(v2[1:], 1):
    msgs.append(fix(p, d(11, 9, 5 + i), "v2-%d@example.org" % i, irt="v2-0@example.org"))
msgs.append(reply("r5@example.com", ["v2-0@example.org", "v2-2@example.org"], "Charles Babbage <charles@example.com>", d(12, 8, 0),
    "Re: [PATCH v2 2/3] public/ring: use plain uint64_t for the length",
    "> -    uint64_aligned_t len;\n> +    uint64_t len;\n\nOn 32-bit x86 this drops the alignment of len from 8 to 4: the struct\nshrinks from 32 to 28 bytes there. Is that intended?\n"))
msgs.append(fix(lone[0] if (lone := sorted(glob.glob("lone/*.patch"))) else "", d(6, 15, 0), "lone-1@example.net",
    frm="Grace Hopper <grace@example.net>"))
msgs.append("From: Charles Babbage <charles@example.com>\nTo: demo@lists.example.org\nSubject: [GIT PULL] demo fixes for 1.1\n"
    "Date: %s\nMessage-Id: <pull-1@example.com>\n%s\nHi Ada,\n\nThe following changes since commit %s:\n\n  Initial import (2024-03-01 10:00:00 +0000)\n\n"
    "are available in the Git repository at:\n\n  https://git.example.com/demo.git tags/demo-fixes-1.1\n\nfor you to fetch changes up to %s:\n\n"
    "  ring: add ring_fini (2024-03-06 15:00:00 +0000)\n\n----------------------------------------------------------------\n"
    "Grace Hopper (1):\n      ring: add ring_fini\n\n src/ring.c | 1 +\n 1 file changed, 1 insertion(+)\n" % (d(13, 7, 0), LIST.split("\n")[0], "0" * 40, "1" * 40))
msgs.append("From: Alan Turing <alan@example.com>\nTo: demo@lists.example.org\nSubject: Roadmap for demo 1.1\n"
    "Date: %s\nMessage-Id: <talk-1@example.com>\n%s\nWhat should go into 1.1? I would like the ring API frozen first.\n" % (d(2, 14, 0), LIST.split("\n")[0]))
with open(out, "w") as f:
    for m in msgs:
        f.write("From mboxrd@z Thu Jan  1 00:00:00 1970\n")
        for line in m.rstrip("\n").split("\n"):
            if re.match(r"^>*From ", line):
                line = ">" + line
            f.write(line + "\n")
        f.write("\n")
PY
if [ -n "$keep" ]; then git -C demo checkout -q main; cp -a demo "$keep"; fi
echo "wrote $out"
