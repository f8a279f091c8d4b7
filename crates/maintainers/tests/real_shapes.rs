//! MAINTAINERS files shaped like Xen's, Linux's and QEMU's (short excerpts written for these
//! tests: the same layout, header text, nesting and entry kinds), and the approvals series
//! touching them need.

use quire_maintainers::*;

/// Xen's shape: an indented header explaining the entries, sub-areas nested in areas
/// (x86 > x86 memory management > shadow paging), an X: carving a directory out, and THE REST
/// with `*` and `*/`.
const XEN: &str = "\
\tList of maintainers and how to submit changes

Please try to follow the guidelines below.

The meaning of nesting:

Many maintainership areas are \"nested\": for example, there are entries
for xen/arch/x86 as well as xen/arch/x86/mm.

Descriptions of section entries:

\tM: Mail patches to: FullName <address@domain>
\tR: Designated reviewer: FullName <address@domain>
\tL: Mailing list that is relevant to this area
\tS: Status, one of the following:
\tF: Files and directories with wildcard patterns.
\t   F:\tdrivers/net/\tall files in and below drivers/net
\tX: Files and directories that are NOT maintained, same rules as F:
\tK: Keyword perl extended regex pattern to match content in a
\t   patch or file.

Maintainers List (try to look for most precise areas first)

\t\t-----------------------------------

EFI
M:\tJan Beulich <jbeulich@suse.com>
R:\tMarek Marczykowski-Górecki <marmarek@invisiblethingslab.com>
S:\tSupported
F:\txen/arch/x86/efi/
F:\txen/common/efi/
F:\txen/include/efi/

SCHEDULING
M:\tGeorge Dunlap <george.dunlap@citrix.com>
M:\tDario Faggioli <dfaggioli@suse.com>
M:\tJuergen Gross <jgross@suse.com>
S:\tSupported
F:\txen/common/sched/

TOOLSTACK
M:\tAnthony PERARD <anthony.perard@vates.tech>
S:\tSupported
F:\ttools/
X:\ttools/xenstored/

XENSTORE
M:\tJuergen Gross <jgross@suse.com>
M:\tJulien Grall <julien@xen.org>
S:\tSupported
F:\ttools/xenstored/
F:\txen/include/public/io/xs_wire.h

X86 ARCHITECTURE
M:\tJan Beulich <jbeulich@suse.com>
M:\tAndrew Cooper <andrew.cooper3@citrix.com>
R:\tRoger Pau Monné <roger.pau@citrix.com>
S:\tSupported
L:\txen-devel@lists.xenproject.org
F:\txen/arch/x86/
F:\txen/include/public/arch-x86/
X:\txen/arch/x86/acpi/lib.c

X86 MEMORY MANAGEMENT
M:\tJan Beulich <jbeulich@suse.com>
M:\tAndrew Cooper <andrew.cooper3@citrix.com>
S:\tSupported
F:\txen/arch/x86/mm/

X86 SHADOW PAGETABLES
M:\tTim Deegan <tim@xen.org>
S:\tMaintained
F:\txen/arch/x86/mm/shadow/

XEN MISRA ANALYSIS TOOLS
M:\tNicola Vetrini <nicola.vetrini@bugseng.com>
S:\tSupported
K:\tSAF-[0-9]+-safe

THE REST
M:\tAndrew Cooper <andrew.cooper3@citrix.com>
M:\tGeorge Dunlap <gwd@xenproject.org>
M:\tJan Beulich <jbeulich@suse.com>
M:\tJulien Grall <julien@xen.org>
M:\tStefano Stabellini <sstabellini@kernel.org>
L:\txen-devel@lists.xenproject.org
S:\tSupported
F:\t*
F:\t*/
V:\txen-maintainers-1
";

/// Linux's shape: the header's entry descriptions indented, N: and K: entries, R: reviewers,
/// and a THE REST whose only F: patterns are `*` and `*/`.
const LINUX: &str = "\
List of maintainers
===================

Descriptions of section entries and preferred order
---------------------------------------------------

\tM: *Mail* patches to: FullName <address@domain>
\tR: Designated *Reviewer*: FullName <address@domain>
\tF: *Files* and directories wildcard patterns.
\tN: Files and directories *Regex* patterns.
\tK: *Content regex* (perl extended) pattern match in a patch or file.

Maintainers List
----------------

.. note:: When reading this list, please look for the most precise areas
          first.

ARM/Amlogic Meson SoC support
M:\tNeil Armstrong <neil.armstrong@linaro.org>
M:\tKevin Hilman <khilman@baylibre.com>
L:\tlinux-amlogic@lists.infradead.org (moderated for non-subscribers)
S:\tMaintained
F:\tarch/arm64/boot/dts/amlogic/
N:\tmeson

IO_URING
M:\tJens Axboe <axboe@kernel.dk>
R:\tPavel Begunkov <asml.silence@gmail.com>
L:\tio-uring@vger.kernel.org
S:\tMaintained
F:\tinclude/linux/io_uring.h
F:\tinclude/uapi/linux/io_uring.h
F:\tio_uring/

MEMORY BARRIERS
M:\tWill Deacon <will@kernel.org>
L:\tlinux-kernel@vger.kernel.org
S:\tSupported
F:\tDocumentation/memory-barriers.txt
K:\t\\b(smp_)?[rw]?mb\\(\\)

NETWORKING DRIVERS
M:\tJakub Kicinski <kuba@kernel.org>
L:\tnetdev@vger.kernel.org
S:\tMaintained
F:\tdrivers/net/
X:\tdrivers/net/wireless/

THE REST
M:\tLinus Torvalds <torvalds@linux-foundation.org>
L:\tlinux-kernel@vger.kernel.org
S:\tBuried alive in reporters
F:\t*
F:\t*/
";

/// QEMU's shape: group titles underlined with dashes between the sections, `F:` naming a
/// directory without its slash, and a section without maintainers (orphaned).
const QEMU: &str = "\
QEMU Maintainers
================

The intention of this file is not to establish who owns what portions of the
code base, but to provide a set of names that developers can consult.

Descriptions of section entries:

\tM: Mail patches to: FullName <address@domain>
\t   Maintainers are looking after a certain area and must be CCed on
\t   patches.
\tS: Status, one of the following:

General Project Administration
------------------------------
M: Peter Maydell <peter.maydell@linaro.org>

Guest CPU cores (TCG)
---------------------
Overall TCG CPUs
M: Richard Henderson <richard.henderson@linaro.org>
R: Paolo Bonzini <pbonzini@redhat.com>
S: Maintained
F: system/cpus.c
F: accel/tcg

Alpha TCG CPUs
M: Richard Henderson <richard.henderson@linaro.org>
S: Maintained
F: target/alpha/

PowerPC TCG CPUs
L: qemu-ppc@nongnu.org
S: Orphan
F: target/ppc/
";

fn map(text: &str, patches: &[(u32, &[&str], &str)]) -> SeriesMaintainers {
    let m = parse(text);
    let inputs: Vec<PatchInput> = patches
        .iter()
        .map(|(n, files, diff)| PatchInput { number: *n, files: files.to_vec(), diff })
        .collect();
    map_series(&m, "0123456789abcdef", "MAINTAINERS", "blob1", &inputs)
}

fn given(patch: u32, tag: &str, who: &str) -> Given {
    Given { patch, tag: tag.into(), person: Person::parse(who) }
}

fn names(people: &[Person]) -> Vec<&str> {
    people.iter().map(|p| p.display()).collect()
}

fn section_names(m: &SeriesMaintainers, patch: usize, file: usize) -> Vec<(&str, i32)> {
    m.patches[patch].files[file]
        .matches
        .iter()
        .map(|x| (m.sections[x.section].name.as_str(), x.depth))
        .collect()
}

#[test]
fn xen_s_nested_areas_rank_the_shadow_code_above_x86_mm_above_x86_above_the_rest() {
    let m = map(XEN, &[(1, &["xen/arch/x86/mm/shadow/multi.c"], "")]);
    assert_eq!(
        section_names(&m, 0, 0),
        [
            ("X86 ARCHITECTURE", 3),
            ("X86 MEMORY MANAGEMENT", 4),
            ("X86 SHADOW PAGETABLES", 5),
            ("THE REST", -1)
        ]
    );
    // Only the sections concerning the series are kept, in the file's order.
    assert_eq!(m.sections.len(), 4);
    assert!(parse(XEN).problems.is_empty());
}

#[test]
fn xen_a_change_to_the_shadow_code_needs_the_shadow_maintainer_not_x86_s() {
    let m = map(XEN, &[(1, &["xen/arch/x86/mm/shadow/multi.c"], "")]);
    let submitter = Person::parse("Some One <someone@example.org>");
    let rule = Rule::default();
    let none = Identities::default();

    // Jan acks: he maintains x86 and x86/mm, not the shadow code.
    let a = evaluate(
        &m,
        &rule,
        &[given(1, "Acked-by", "Jan Beulich <jbeulich@suse.com>")],
        &submitter,
        &none,
    );
    assert!(!a.approved);
    assert_eq!(names(&a.awaiting), ["Tim Deegan"]);
    assert_eq!(a.files[0].state, FileState::Awaiting);
    // The page shows his Ack on the x86 sections all the same.
    let x86 = a.files[0].sections.iter().find(|s| s.name == "X86 ARCHITECTURE").unwrap();
    assert!(!x86.required);
    assert_eq!(x86.maintainers[0].gave[0].tag, "Acked-by");

    let a =
        evaluate(&m, &rule, &[given(1, "Acked-by", "Tim Deegan <tim@xen.org>")], &submitter, &none);
    assert!(a.approved, "{a:#?}");
    assert!(a.awaiting.is_empty());
    assert_eq!(a.approved_by[0].person.name, "Tim Deegan");

    // Any of a file's sections, when the project says so.
    let loose = Rule { most_specific: false, ..Rule::default() };
    let a = evaluate(
        &m,
        &loose,
        &[given(1, "Acked-by", "Jan Beulich <jbeulich@suse.com>")],
        &submitter,
        &none,
    );
    assert!(a.approved);
}

#[test]
fn xen_each_file_of_each_patch_needs_its_own_maintainer() {
    let m = map(
        XEN,
        &[
            (1, &["xen/common/sched/credit2.c", "xen/arch/x86/domain.c"], ""),
            (2, &["tools/xenstored/core.c", "tools/libs/light/libxl_dom.c"], ""),
            (3, &["README"], ""),
        ],
    );
    let submitter = Person::parse("Some One <someone@example.org>");
    let g = [
        // On the cover letter: b4 gives it to every patch.
        given(1, "Acked-by", "Juergen Gross <jgross@suse.com>"),
        given(2, "Acked-by", "Juergen Gross <jgross@suse.com>"),
        given(3, "Acked-by", "Juergen Gross <jgross@suse.com>"),
        given(1, "Reviewed-by", "Andrew Cooper <andrew.cooper3@citrix.com>"),
        // A Tested-by does not approve.
        given(2, "Tested-by", "Anthony PERARD <anthony.perard@vates.tech>"),
    ];
    let a = evaluate(&m, &Rule::default(), &g, &submitter, &Identities::default());
    let state = |p: &str| a.files.iter().find(|f| f.path == p).unwrap().state;
    assert_eq!(state("xen/common/sched/credit2.c"), FileState::Approved);
    assert_eq!(state("xen/arch/x86/domain.c"), FileState::Approved);
    // X: tools/xenstored/ takes it out of TOOLSTACK: XENSTORE's Juergen suffices.
    assert_eq!(state("tools/xenstored/core.c"), FileState::Approved);
    assert_eq!(state("tools/libs/light/libxl_dom.c"), FileState::Awaiting);
    // THE REST: Juergen is not one of its maintainers.
    assert_eq!(state("README"), FileState::Awaiting);
    assert!(!a.approved);
    assert_eq!(
        names(&a.awaiting),
        [
            "Andrew Cooper",
            "George Dunlap",
            "Jan Beulich",
            "Julien Grall",
            "Stefano Stabellini",
            "Anthony PERARD"
        ]
    );
}

#[test]
fn xen_the_submitter_being_a_maintainer_approves_unless_the_project_says_otherwise() {
    let m = map(XEN, &[(1, &["xen/arch/x86/efi/boot.c"], "")]);
    let jan = Person::parse("Jan Beulich <jbeulich@suse.com>");
    let a = evaluate(&m, &Rule::default(), &[], &jan, &Identities::default());
    assert!(a.approved);
    assert_eq!(a.approved_by[0].tag, "submitter");
    let strict = Rule { submitter: false, ..Rule::default() };
    let a = evaluate(&m, &strict, &[], &jan, &Identities::default());
    assert!(!a.approved);
    // EFI (xen/arch/x86/efi/) is more specific than X86 ARCHITECTURE (xen/arch/x86/).
    assert_eq!(names(&a.awaiting), ["Jan Beulich"]);
}

#[test]
fn one_person_under_another_address_is_matched_by_name_or_by_the_archive() {
    let m = map(XEN, &[(1, &["xen/arch/x86/mm/p2m.c"], "")]);
    let submitter = Person::parse("Some One <someone@example.org>");
    // The same name, another address: shown "as" that address.
    let a = evaluate(
        &m,
        &Rule::default(),
        &[given(1, "Acked-by", "Andrew Cooper <andrew.cooper@cloud.com>")],
        &submitter,
        &Identities::default(),
    );
    assert!(a.approved);
    assert_eq!(a.approved_by[0].as_email.as_deref(), Some("andrew.cooper@cloud.com"));
    assert_eq!(a.approved_by[0].via, Some(Via::Name));
    // Another name and address, which the archive has seen with Andrew's name.
    let g = [given(1, "Reviewed-by", "Andy Cooper <andy@example.net>")];
    let a = evaluate(&m, &Rule::default(), &g, &submitter, &Identities::default());
    assert!(!a.approved);
    let mut known = Identities::default();
    known.add("Andrew Cooper", "andy@example.net");
    let a = evaluate(&m, &Rule::default(), &g, &submitter, &known);
    assert!(a.approved);
    assert_eq!(a.approved_by[0].via, Some(Via::Archive));
}

#[test]
fn linux_n_and_k_entries_and_excluded_directories() {
    let diff = "--- a/drivers/net/ethernet/foo.c\n+++ b/drivers/net/ethernet/foo.c\n@@ -1 +1,2 @@\n smp_mb();\n+\tsmp_wmb();\n";
    let m = map(
        LINUX,
        &[
            (1, &["drivers/net/ethernet/foo.c"], diff),
            (2, &["drivers/net/wireless/ath/ath9k/main.c"], ""),
            (3, &["drivers/soc/amlogic/meson-secure-pwrc.c"], ""),
            (4, &["io_uring/rw.c", "include/uapi/linux/io_uring.h"], ""),
        ],
    );
    assert_eq!(section_names(&m, 0, 0), [("NETWORKING DRIVERS", 2), ("THE REST", -1)]);
    assert_eq!(m.sections[m.patches[0].keywords[0]].name, "MEMORY BARRIERS");
    // X: drivers/net/wireless/ leaves THE REST.
    assert_eq!(section_names(&m, 1, 0), [("THE REST", -1)]);
    // N: meson, as a regular expression on the path.
    assert_eq!(section_names(&m, 2, 0), [("ARM/Amlogic Meson SoC support", 0), ("THE REST", -1)]);
    // Paths in order: include/uapi/linux/io_uring.h, then io_uring/rw.c.
    assert_eq!(section_names(&m, 3, 0), [("IO_URING", 4), ("THE REST", -1)]);
    assert_eq!(section_names(&m, 3, 1), [("IO_URING", 1), ("THE REST", -1)]);

    let submitter = Person::parse("A Developer <dev@example.com>");
    let g = [
        given(1, "Acked-by", "Jakub Kicinski <kuba@kernel.org>"),
        given(4, "Reviewed-by", "Pavel Begunkov <asml.silence@gmail.com>"),
    ];
    let a = evaluate(&m, &Rule::default(), &g, &submitter, &Identities::default());
    let file = |p: &str| a.files.iter().find(|f| f.path == p).unwrap();
    assert_eq!(file("drivers/net/ethernet/foo.c").state, FileState::Approved);
    // The keyword section is listed for the file, below the required one.
    let barrier = file("drivers/net/ethernet/foo.c")
        .sections
        .iter()
        .find(|s| s.name == "MEMORY BARRIERS")
        .unwrap();
    assert_eq!(barrier.by, MatchKind::Keyword);
    assert!(!barrier.required);
    // A reviewer's Reviewed-by shows, but R: does not approve.
    let io = file("io_uring/rw.c");
    assert_eq!(io.state, FileState::Awaiting);
    assert_eq!(io.sections[0].reviewers[0].gave[0].tag, "Reviewed-by");
    assert_eq!(names(&io.awaiting), ["Jens Axboe"]);
    assert_eq!(
        names(&file("drivers/soc/amlogic/meson-secure-pwrc.c").awaiting),
        ["Neil Armstrong", "Kevin Hilman"]
    );

    // Under `any-maintainer`, Jakub's Ack approves the whole series.
    let any = Rule { rule: RuleKind::AnyMaintainer, ..Rule::default() };
    let a = evaluate(&m, &any, &g, &submitter, &Identities::default());
    assert!(a.approved);
    assert!(a.files.iter().all(|f| f.state == FileState::Approved), "{:#?}", a.files);
}

#[test]
fn qemu_group_titles_directories_without_slash_and_orphaned_areas() {
    let parsed = parse(QEMU);
    let titles: Vec<&str> = parsed.sections.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        titles,
        [
            "General Project Administration",
            "Overall TCG CPUs",
            "Alpha TCG CPUs",
            "PowerPC TCG CPUs"
        ]
    );
    let m = map(
        QEMU,
        &[(1, &["accel/tcg/cpu-exec.c", "target/ppc/translate.c", "docs/index.rst"], "")],
    );
    assert_eq!(section_names(&m, 0, 0), [("Overall TCG CPUs", 2)]);
    let submitter = Person::parse("Dev <dev@example.com>");
    let g = [given(1, "Reviewed-by", "Richard Henderson <richard.henderson@linaro.org>")];
    let a = evaluate(&m, &Rule::default(), &g, &submitter, &Identities::default());
    // The orphaned PowerPC area and a file no section takes need nobody.
    let state = |p: &str| a.files.iter().find(|f| f.path == p).unwrap().state;
    assert_eq!(state("target/ppc/translate.c"), FileState::NoMaintainer);
    assert_eq!(state("docs/index.rst"), FileState::NoMaintainer);
    assert_eq!(state("accel/tcg/cpu-exec.c"), FileState::Approved);
    assert!(a.approved);
}

#[test]
fn the_stored_map_and_the_approvals_survive_json() {
    let m = map(XEN, &[(1, &["xen/arch/x86/mm/shadow/multi.c"], "")]);
    let text = serde_json::to_string(&m).unwrap();
    assert_eq!(serde_json::from_str::<SeriesMaintainers>(&text).unwrap(), m);
    let a = evaluate(&m, &Rule::default(), &[], &Person::default(), &Identities::default());
    let text = serde_json::to_string(&a).unwrap();
    assert_eq!(serde_json::from_str::<Approvals>(&text).unwrap(), a);
}

#[test]
fn rules_read_as_sentences() {
    assert_eq!(
        Rule::default().describe(),
        "each touched file needs an Acked-by or Reviewed-by from a maintainer of its most specific section, or a submitter who is one"
    );
}
