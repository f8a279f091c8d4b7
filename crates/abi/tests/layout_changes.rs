//! Each case a reviewer must be told about, on headers written into a real git repository and
//! built by the real clang for the four default targets.
mod common;

use common::{Repo, config};
use quire_abi::{AbiConfig, LayoutChange, TypeStatus, check_revisions};

fn header(body: &str) -> String {
    format!("#ifndef PUB_H\n#define PUB_H\n{body}\n#endif\n")
}

/// The Xen story: `uint64_aligned_t` exists so that 32-bit x86 callers lay the struct out as
/// 64-bit ones do; a field going back to plain `uint64_t` was posted as "no functional change".
#[test]
fn aligned_typedef_becoming_plain_uint64_shrinks_the_struct_on_i386_only() {
    let repo = Repo::new();
    let typedef = "typedef uint64_t uint64_aligned_t __attribute__((aligned(8)));\n";
    let before = repo.commit(
        "v1",
        &[(
            "include/public/domctl.h",
            &header(&format!(
                "{typedef}struct xen_domctl_example {{\n    uint64_aligned_t gfn;\n    uint32_t nr;\n    uint32_t flags;\n    uint32_t pad[3];\n}};"
            )),
        )],
    );
    let after = repo.commit(
        "No functional change expected",
        &[(
            "include/public/domctl.h",
            &header(&format!(
                "{typedef}struct xen_domctl_example {{\n    uint64_t gfn;\n    uint32_t nr;\n    uint32_t flags;\n    uint32_t pad[3];\n}};"
            )),
        )],
    );
    let report = check_revisions(repo.path(), &before, &after, &config()).expect("check runs");
    assert_eq!(report.headers, vec!["include/public/domctl.h"]);
    assert!(report.is_breaking());

    let i386 = report.configuration("i386", &[]).expect("i386 built");
    let change = i386.type_change("struct xen_domctl_example").expect("reported on i386");
    assert_eq!(change.status, TypeStatus::Changed);
    assert!(change.breaking);
    assert!(
        change.changes.contains(&LayoutChange::Size { before: 32, after: 28 }),
        "{:?}",
        change.changes
    );
    assert!(change.changes.contains(&LayoutChange::Alignment { before: 8, after: 4 }));
    assert!(change.changes.contains(&LayoutChange::TrailingPadding { before: 4, after: 0 }));
    assert!(
        change.changes.contains(&LayoutChange::MemberTypeSpelling {
            member: "gfn".into(),
            before: "uint64_aligned_t".into(),
            after: "uint64_t".into(),
        }),
        "the cause is shown next to its effect"
    );

    for unchanged in ["x86_64", "aarch64", "arm"] {
        let config = report.configuration(unchanged, &[]).expect("built");
        assert!(config.types.is_empty(), "{unchanged}: {:?}", config.types);
        assert!(!config.is_breaking());
    }
    let text = report.to_text();
    assert!(
        text.contains("\nx86_64 (x86_64-linux-gnu), aarch64 (aarch64-linux-gnu), arm (arm-linux-gnueabihf): no layout change\n"),
        "targets that agree share one line: {text}"
    );
    assert!(text.contains("\ni386 (i386-linux-gnu): BREAKING\n"), "{text}");
    assert!(text.contains("size"), "{text}");
}

#[test]
fn struct_leaving_an_ifdef_block_is_added_without_the_macro_and_unchanged_with_it() {
    let repo = Repo::new();
    let tools_struct = "struct xen_tools_only {\n    uint32_t domid;\n    uint64_t handle;\n};";
    let before = repo.commit(
        "v1",
        &[(
            "include/public/sysctl.h",
            &header(&format!("#if defined(__XEN_TOOLS__)\n{tools_struct}\n#endif")),
        )],
    );
    let after = repo.commit("expose it", &[("include/public/sysctl.h", &header(tools_struct))]);
    let cfg = AbiConfig {
        macro_sets: vec![vec![], vec!["-D__XEN_TOOLS__".to_owned()]],
        targets: vec!["x86_64".into(), "i386".into()],
        ..config()
    };
    let report = check_revisions(repo.path(), &before, &after, &cfg).expect("check runs");
    assert!(!report.is_breaking(), "{}", report.to_text());
    for target in ["x86_64", "i386"] {
        let plain = report.configuration(target, &[]).expect("plain build");
        let added = plain.type_change("struct xen_tools_only").expect("newly exposed");
        assert_eq!(added.status, TypeStatus::Added);
        assert!(!added.breaking);
        let tools = report.configuration(target, &["-D__XEN_TOOLS__"]).expect("tools build");
        assert!(tools.types.is_empty(), "{:?}", tools.types);
    }
    let i386 =
        report.configuration("i386", &[]).and_then(|c| c.type_change("struct xen_tools_only"));
    assert_eq!(i386.and_then(|t| t.after).map(|s| (s.size, s.alignment)), Some((12, 4)));
    assert_eq!(report.configurations.len(), 4);
}

#[test]
fn member_inserted_in_the_middle_shifts_every_later_offset() {
    let repo = Repo::new();
    let before = repo.commit(
        "v1",
        &[("include/public/event.h", &header("struct evtchn_op {\n    uint32_t port;\n    uint16_t vcpu;\n    uint16_t flags;\n    uint64_t cookie;\n};"))],
    );
    let after = repo.commit(
        "v2",
        &[("include/public/event.h", &header("struct evtchn_op {\n    uint32_t port;\n    uint32_t priority;\n    uint16_t vcpu;\n    uint16_t flags;\n    uint64_t cookie;\n};"))],
    );
    let report = check_revisions(repo.path(), &before, &after, &config()).expect("check runs");
    let x86_64 = report
        .configuration("x86_64", &[])
        .and_then(|c| c.type_change("struct evtchn_op"))
        .expect("changed");
    assert!(x86_64.breaking);
    let c = &x86_64.changes;
    assert!(c.contains(&LayoutChange::Size { before: 16, after: 24 }), "{c:?}");
    assert!(c.contains(&LayoutChange::MemberOffset { member: "vcpu".into(), before: 4, after: 8 }));
    assert!(c.contains(&LayoutChange::MemberOffset {
        member: "flags".into(),
        before: 6,
        after: 10
    }));
    assert!(c.contains(&LayoutChange::MemberOffset {
        member: "cookie".into(),
        before: 8,
        after: 16
    }));
    assert!(c.iter().any(|x| matches!(x, LayoutChange::MemberAdded { member } if member.name == "priority" && member.offset == 4)));
    assert!(
        !c.iter()
            .any(|x| matches!(x, LayoutChange::MemberOffset { member, .. } if member == "port"))
    );
    // i386 aligns uint64_t to 4: cookie moves 8 -> 12, size 16 -> 20.
    let i386 = report
        .configuration("i386", &[])
        .and_then(|c| c.type_change("struct evtchn_op"))
        .expect("changed");
    assert!(
        i386.changes.contains(&LayoutChange::Size { before: 16, after: 20 }),
        "{:?}",
        i386.changes
    );
    assert!(i386.changes.contains(&LayoutChange::MemberOffset {
        member: "cookie".into(),
        before: 8,
        after: 12
    }));
}

#[test]
fn dropping_pragma_pack_moves_members_to_natural_alignment() {
    let repo = Repo::new();
    let body = "struct wire_hdr {\n    uint8_t type;\n    uint32_t len;\n    uint16_t csum;\n};";
    let before = repo.commit(
        "v1",
        &[(
            "include/public/wire.h",
            &header(&format!("#pragma pack(push, 1)\n{body}\n#pragma pack(pop)")),
        )],
    );
    let after = repo.commit("v2", &[("include/public/wire.h", &header(body))]);
    let report = check_revisions(repo.path(), &before, &after, &config()).expect("check runs");
    for target in ["x86_64", "i386", "aarch64", "arm"] {
        let t = report
            .configuration(target, &[])
            .and_then(|c| c.type_change("struct wire_hdr"))
            .expect("changed");
        assert_eq!(t.before.map(|s| (s.size, s.alignment)), Some((7, 1)), "{target}");
        assert_eq!(t.after.map(|s| (s.size, s.alignment)), Some((12, 4)), "{target}");
        assert!(t.changes.contains(&LayoutChange::MemberOffset {
            member: "len".into(),
            before: 1,
            after: 4
        }));
        assert!(t.changes.contains(&LayoutChange::MemberOffset {
            member: "csum".into(),
            before: 5,
            after: 8
        }));
    }
}

#[test]
fn pragma_pack_two_keeps_alignment_two() {
    let repo = Repo::new();
    let body = "struct half_packed {\n    uint8_t a;\n    uint32_t b;\n};";
    let before = repo.commit("v1", &[("include/public/p.h", &header(body))]);
    let after = repo.commit(
        "v2",
        &[(
            "include/public/p.h",
            &header(&format!("#pragma pack(push, 2)\n{body}\n#pragma pack(pop)")),
        )],
    );
    let report = check_revisions(repo.path(), &before, &after, &config()).expect("check runs");
    let t = report
        .configuration("x86_64", &[])
        .and_then(|c| c.type_change("struct half_packed"))
        .expect("changed");
    assert!(t.changes.contains(&LayoutChange::Size { before: 8, after: 6 }), "{:?}", t.changes);
    assert!(t.changes.contains(&LayoutChange::Alignment { before: 4, after: 2 }));
    assert!(t.changes.contains(&LayoutChange::MemberOffset {
        member: "b".into(),
        before: 4,
        after: 2
    }));
}

#[test]
fn union_member_of_wider_type_grows_the_union_and_its_alignment() {
    let repo = Repo::new();
    let before = repo.commit(
        "v1",
        &[(
            "include/public/u.h",
            &header("union vcpu_arg {\n    uint32_t id;\n    uint8_t raw[4];\n};"),
        )],
    );
    let after = repo.commit(
        "v2",
        &[(
            "include/public/u.h",
            &header(
                "union vcpu_arg {\n    uint32_t id;\n    uint8_t raw[4];\n    uint64_t mask;\n};",
            ),
        )],
    );
    let report = check_revisions(repo.path(), &before, &after, &config()).expect("check runs");
    let x86_64 = report
        .configuration("x86_64", &[])
        .and_then(|c| c.type_change("union vcpu_arg"))
        .expect("changed");
    assert_eq!(x86_64.kind, quire_abi::TypeKind::Union);
    assert!(x86_64.changes.contains(&LayoutChange::Size { before: 4, after: 8 }));
    assert!(x86_64.changes.contains(&LayoutChange::Alignment { before: 4, after: 8 }));
    let i386 = report
        .configuration("i386", &[])
        .and_then(|c| c.type_change("union vcpu_arg"))
        .expect("changed");
    assert!(
        !i386.changes.iter().any(|c| matches!(c, LayoutChange::Alignment { .. })),
        "i386 keeps 4: {:?}",
        i386.changes
    );
}

#[test]
fn nested_and_anonymous_members_are_named_as_c_code_names_them() {
    let repo = Repo::new();
    let before = repo.commit(
        "v1",
        &[(
            "include/public/n.h",
            &header("struct outer {\n    uint32_t kind;\n    union {\n        uint32_t port;\n        uint16_t irq;\n    };\n    struct {\n        uint16_t lo;\n        uint16_t hi;\n    } range;\n};"),
        )],
    );
    let after = repo.commit(
        "v2",
        &[(
            "include/public/n.h",
            &header("struct outer {\n    uint32_t kind;\n    union {\n        uint64_t port;\n        uint16_t irq;\n    };\n    struct {\n        uint16_t lo;\n        uint16_t hi;\n    } range;\n};"),
        )],
    );
    let report = check_revisions(repo.path(), &before, &after, &config()).expect("check runs");
    let t = report
        .configuration("x86_64", &[])
        .and_then(|c| c.type_change("struct outer"))
        .expect("changed");
    let c = &t.changes;
    assert!(
        c.contains(&LayoutChange::MemberOffset { member: "port".into(), before: 4, after: 8 }),
        "{c:?}"
    );
    assert!(c.contains(&LayoutChange::MemberSize { member: "port".into(), before: 4, after: 8 }));
    assert!(c.contains(&LayoutChange::MemberType {
        member: "port".into(),
        before: "uint32_t".into(),
        after: "uint64_t".into()
    }));
    assert!(c.contains(&LayoutChange::MemberOffset {
        member: "range.hi".into(),
        before: 10,
        after: 18
    }));
    assert!(c.contains(&LayoutChange::MemberOffset {
        member: "range".into(),
        before: 8,
        after: 16
    }));
}

#[test]
fn widened_bit_field_moves_the_next_one_by_bits() {
    let repo = Repo::new();
    let before = repo.commit(
        "v1",
        &[("include/public/b.h", &header("struct pte_flags {\n    uint32_t present:1;\n    uint32_t order:4;\n    uint32_t type:3;\n    uint32_t rest;\n};"))],
    );
    let after = repo.commit(
        "v2",
        &[("include/public/b.h", &header("struct pte_flags {\n    uint32_t present:1;\n    uint32_t order:6;\n    uint32_t type:3;\n    uint32_t rest;\n};"))],
    );
    let report = check_revisions(repo.path(), &before, &after, &config()).expect("check runs");
    let t = report
        .configuration("arm", &[])
        .and_then(|c| c.type_change("struct pte_flags"))
        .expect("changed");
    let c = &t.changes;
    use quire_abi::BitField;
    assert!(
        c.contains(&LayoutChange::MemberBitField {
            member: "order".into(),
            before: Some(BitField { offset: 1, size: 4 }),
            after: Some(BitField { offset: 1, size: 6 }),
        }),
        "{c:?}"
    );
    assert!(c.contains(&LayoutChange::MemberBitField {
        member: "type".into(),
        before: Some(BitField { offset: 5, size: 3 }),
        after: Some(BitField { offset: 7, size: 3 }),
    }));
    assert!(!c.iter().any(|x| matches!(x, LayoutChange::Size { .. })), "still 8 bytes");
    assert!(t.breaking);
}

#[test]
fn header_that_stops_compiling_is_reported_with_clangs_message() {
    let repo = Repo::new();
    let before = repo
        .commit("v1", &[("include/public/broken.h", &header("struct ok {\n    uint32_t a;\n};"))]);
    let after = repo.commit(
        "v2",
        &[(
            "include/public/broken.h",
            &header("struct ok {\n    uint32_t a;\n    undefined_type_t b;\n};"),
        )],
    );
    let report = check_revisions(repo.path(), &before, &after, &config())
        .expect("a compile failure is a finding, not an error");
    assert!(report.is_breaking());
    for config in &report.configurations {
        assert_eq!(config.failures.len(), 1, "{}", config.label());
        let failure = &config.failures[0];
        assert_eq!(failure.revision, quire_abi::Revision::After);
        assert!(failure.breaking);
        assert!(failure.message.contains("include/public/broken.h:5:"), "{}", failure.message);
        assert!(
            failure.message.contains("unknown type name 'undefined_type_t'"),
            "{}",
            failure.message
        );
        assert!(!failure.message.contains("/tmp/"), "temporary paths are cut: {}", failure.message);
        assert!(
            config.types.is_empty(),
            "a header that failed contributes no type: {:?}",
            config.types
        );
    }
    assert!(report.to_text().contains("does not compile (after, breaking)"));
}

#[test]
fn header_broken_on_both_sides_is_reported_but_not_breaking() {
    let repo = Repo::new();
    let before = repo
        .commit("v1", &[("include/public/x.h", "#error needs a config\nstruct a { int x; };\n")]);
    let after = repo
        .commit("v2", &[("include/public/x.h", "#error needs a config\nstruct a { long x; };\n")]);
    let report = check_revisions(repo.path(), &before, &after, &config()).expect("check runs");
    assert!(!report.is_breaking());
    let x86 = report.configuration("x86_64", &[]).expect("built");
    assert_eq!(x86.failures.len(), 2);
    assert!(x86.failures.iter().all(|f| f.message.contains("needs a config") && !f.breaking));
    let text = report.to_text();
    assert_eq!(
        text.matches("include/public/x.h does not compile (before and after):").count(),
        1,
        "{text}"
    );
    assert_eq!(
        text.matches("#error needs a config").count(),
        1,
        "one message for the four alike: {text}"
    );
}

#[test]
fn enum_value_change_breaks_but_a_new_enumerator_does_not() {
    let repo = Repo::new();
    let before = repo
        .commit("v1", &[("include/public/e.h", &header("enum op { OP_READ = 1, OP_WRITE = 2 };"))]);
    let added = repo.commit(
        "v2",
        &[("include/public/e.h", &header("enum op { OP_READ = 1, OP_WRITE = 2, OP_SYNC = 3 };"))],
    );
    let renumbered = repo.commit(
        "v3",
        &[("include/public/e.h", &header("enum op { OP_READ = 1, OP_WRITE = 4, OP_SYNC = 3 };"))],
    );
    let cfg = AbiConfig { targets: vec!["x86_64".into()], ..config() };
    let report = check_revisions(repo.path(), &before, &added, &cfg).expect("check runs");
    assert!(!report.is_breaking(), "{}", report.to_text());
    let t = report
        .configuration("x86_64", &[])
        .and_then(|c| c.type_change("enum op"))
        .expect("reported");
    assert_eq!(t.changes, vec![LayoutChange::EnumeratorAdded { name: "OP_SYNC".into(), value: 3 }]);
    let report = check_revisions(repo.path(), &added, &renumbered, &cfg).expect("check runs");
    assert!(report.is_breaking());
}

#[test]
fn removed_struct_and_deleted_header_are_breaking() {
    let repo = Repo::new();
    let before = repo.commit(
        "v1",
        &[
            (
                "include/public/keep.h",
                &header("struct kept { uint32_t a; };\nstruct dropped { uint32_t b; };"),
            ),
            ("include/public/gone.h", &header("struct in_gone_header { uint16_t c; };")),
        ],
    );
    let after = repo.commit(
        "v2",
        &[
            ("include/public/keep.h", &header("struct kept { uint32_t a; };")),
            ("include/public/gone.h", ""),
        ],
    );
    let report = check_revisions(repo.path(), &before, &after, &config()).expect("check runs");
    assert_eq!(report.headers, vec!["include/public/gone.h", "include/public/keep.h"]);
    let x86 = report.configuration("x86_64", &[]).expect("built");
    for name in ["struct dropped", "struct in_gone_header"] {
        let t = x86.type_change(name).expect("reported");
        assert_eq!(t.status, TypeStatus::Removed);
        assert!(t.breaking);
    }
    assert!(x86.type_change("struct kept").is_none());
}

#[test]
fn new_header_including_an_old_one_adds_only_its_own_types() {
    let repo = Repo::new();
    let before =
        repo.commit("v1", &[("include/public/base.h", &header("struct base { uint32_t a; };"))]);
    let after = repo.commit(
        "v2",
        &[(
            "include/public/ext.h",
            "#include \"base.h\"\nstruct ext { struct base b; uint32_t more; };\n",
        )],
    );
    let report = check_revisions(repo.path(), &before, &after, &config()).expect("check runs");
    assert_eq!(report.headers, vec!["include/public/ext.h"]);
    let x86 = report.configuration("x86_64", &[]).expect("built");
    assert_eq!(x86.types.len(), 1, "{:?}", x86.types);
    assert_eq!(x86.types[0].name, "struct ext");
    assert_eq!(x86.types[0].status, TypeStatus::Added);
    assert!(!report.is_breaking());
}

#[test]
fn typedefd_anonymous_struct_is_reported_under_the_typedef_name() {
    let repo = Repo::new();
    let before = repo.commit(
        "v1",
        &[("include/public/t.h", &header("typedef struct { uint16_t lo; } handle_t;"))],
    );
    let after = repo.commit(
        "v2",
        &[("include/public/t.h", &header("typedef struct { uint32_t lo; } handle_t;"))],
    );
    let report = check_revisions(repo.path(), &before, &after, &config()).expect("check runs");
    let t = report
        .configuration("x86_64", &[])
        .and_then(|c| c.type_change("handle_t"))
        .expect("named by typedef");
    assert!(t.changes.contains(&LayoutChange::Size { before: 2, after: 4 }));
}

#[test]
fn same_type_spelled_differently_is_no_layout_change() {
    let repo = Repo::new();
    let before = repo
        .commit("v1", &[("include/public/s.h", &header("struct s { uint32_t a; uint64_t b; };"))]);
    let after = repo.commit(
        "v2",
        &[("include/public/s.h", &header("struct s { unsigned int a; uint64_t b; };"))],
    );
    let report = check_revisions(repo.path(), &before, &after, &config()).expect("check runs");
    assert!(report.configurations.iter().all(|c| c.types.is_empty()), "{}", report.to_text());
    let text = report.to_text();
    assert_eq!(text.matches("no layout change").count(), 1, "{text}");
    assert!(text.contains("x86_64 (x86_64-linux-gnu), i386 (i386-linux-gnu), aarch64 (aarch64-linux-gnu), arm (arm-linux-gnueabihf): no layout change"));
}

#[test]
fn only_headers_matching_the_globs_are_built() {
    let repo = Repo::new();
    let before = repo.commit(
        "v1",
        &[
            ("include/public/a.h", &header("struct a { int x; };")),
            ("src/private.h", "struct p { int x; };\n"),
        ],
    );
    let after =
        repo.commit("v2", &[("src/private.h", "struct p { long x; };\n"), ("README", "docs\n")]);
    let report = check_revisions(repo.path(), &before, &after, &config()).expect("check runs");
    assert!(report.headers.is_empty());
    assert!(report.configurations.is_empty());
    assert!(report.to_text().contains("no public header touched"));
}

#[test]
fn bad_revision_is_an_error_naming_git() {
    let repo = Repo::new();
    let before = repo.commit("v1", &[("include/public/a.h", &header("struct a { int x; };"))]);
    let err =
        check_revisions(repo.path(), &before, "no-such-branch", &config()).expect_err("bad rev");
    assert!(err.to_string().contains("git rev-parse"), "{err}");
}

#[test]
fn missing_clang_is_one_line_naming_the_fix() {
    let repo = Repo::new();
    let before = repo.commit("v1", &[("include/public/a.h", &header("struct a { int x; };"))]);
    let cfg = AbiConfig { clang: "/nonexistent/clang".into(), ..config() };
    let err = check_revisions(repo.path(), &before, &before, &cfg).expect_err("no clang");
    assert_eq!(
        err.to_string(),
        "clang not found at /nonexistent/clang: install it with `apt-get install clang`"
    );
}

#[test]
fn report_round_trips_through_json() {
    let repo = Repo::new();
    let before = repo.commit("v1", &[("include/public/a.h", &header("struct a { uint32_t x; };"))]);
    let after = repo.commit("v2", &[("include/public/a.h", &header("struct a { uint64_t x; };"))]);
    let report = check_revisions(repo.path(), &before, &after, &config()).expect("check runs");
    let json = report.to_json();
    let back: quire_abi::Report = serde_json::from_str(&json).expect("parses");
    assert_eq!(back, report);
    assert!(json.contains("\"change\": \"size\""), "{json}");
}

/// A packed attribute on a struct whose members already sit at natural offsets changes no
/// offset and no size, only the alignment, and with it every struct embedding it.
#[test]
fn packing_a_naturally_aligned_struct_changes_its_alignment_and_its_users() {
    let repo = Repo::new();
    let body = |attr: &str| {
        header(&format!(
            "struct ring_desc {{\n    uint32_t addr;\n    uint32_t len;\n}}{attr};\nstruct ring_slot {{\n    uint8_t flags;\n    struct ring_desc desc;\n}};"
        ))
    };
    let before = repo.commit("v1", &[("include/public/ring.h", &body(""))]);
    let after = repo.commit("v2", &[("include/public/ring.h", &body(" __attribute__((packed))"))]);
    let report = check_revisions(repo.path(), &before, &after, &config()).expect("check runs");
    let x86 = report.configuration("x86_64", &[]).expect("built");
    let desc = x86.type_change("struct ring_desc").expect("reported");
    assert_eq!(desc.changes, vec![LayoutChange::Alignment { before: 4, after: 1 }]);
    assert!(desc.breaking);
    let slot = x86.type_change("struct ring_slot").expect("embedding struct reported");
    assert!(
        slot.changes.contains(&LayoutChange::MemberOffset {
            member: "desc".into(),
            before: 4,
            after: 1
        }),
        "{:?}",
        slot.changes
    );
    assert!(slot.changes.contains(&LayoutChange::Size { before: 12, after: 9 }));
}

/// Xen declares some structs once per architecture (arch-x86/xen.h, arch-arm.h); a change to
/// one variant must not hide behind the other.
#[test]
fn same_struct_name_in_two_arch_headers_is_checked_per_header() {
    let repo = Repo::new();
    let before = repo.commit(
        "v1",
        &[
            (
                "include/public/arch-x86/xen.h",
                &header("struct arch_vcpu_info { uint64_t cr2; uint64_t pad; };"),
            ),
            ("include/public/arch-arm.h", "struct arch_vcpu_info { uint32_t dummy; };\n"),
        ],
    );
    let after = repo.commit(
        "v2",
        &[
            (
                "include/public/arch-x86/xen.h",
                &header("struct arch_vcpu_info { uint64_t cr2; uint64_t cr3; uint64_t pad; };"),
            ),
            (
                "include/public/arch-arm.h",
                "/* arm comment */\nstruct arch_vcpu_info { uint32_t dummy; };\n",
            ),
        ],
    );
    let report = check_revisions(repo.path(), &before, &after, &config()).expect("check runs");
    let x86 = report.configuration("x86_64", &[]).expect("built");
    assert_eq!(x86.types.len(), 1, "{:?}", x86.types);
    // arch-arm.h sorts first and did not change: the x86 variant is compared with itself.
    assert_eq!(x86.types[0].file, "include/public/arch-x86/xen.h");
    assert!(x86.types[0].changes.contains(&LayoutChange::Size { before: 16, after: 24 }));
}

#[test]
fn struct_moved_to_another_header_is_the_same_type() {
    let repo = Repo::new();
    let body = "struct moved { uint32_t a; uint16_t b; };";
    let before = repo.commit(
        "v1",
        &[
            ("include/public/a.h", &header(&format!("#include \"b.h\"\n{body}"))),
            ("include/public/b.h", "/* b */\n"),
        ],
    );
    let after = repo.commit(
        "v2",
        &[
            ("include/public/a.h", &header("#include \"b.h\"")),
            ("include/public/b.h", &format!("/* b */\n{body}\n")),
        ],
    );
    let report = check_revisions(repo.path(), &before, &after, &config()).expect("check runs");
    assert!(report.configurations.iter().all(|c| c.types.is_empty()), "{}", report.to_text());
}

/// Only the globs' directories and the include directories are taken out of git (a kernel
/// tree is large): a header reaching outside them needs its directory listed as an include.
#[test]
fn header_reaching_outside_the_public_directory_needs_an_include_dir() {
    let repo = Repo::new();
    let public = |field: &str| {
        header(&format!("#include \"../common/defs.h\"\nstruct req {{ defs_word_t w; {field} }};"))
    };
    let before = repo.commit(
        "v1",
        &[
            ("include/common/defs.h", "typedef uint32_t defs_word_t;\n"),
            ("include/public/req.h", &public("uint8_t a;")),
        ],
    );
    let after = repo.commit("v2", &[("include/public/req.h", &public("uint64_t a;"))]);
    let narrow = AbiConfig { targets: vec!["x86_64".into()], ..config() };
    let report = check_revisions(repo.path(), &before, &after, &narrow).expect("check runs");
    let failures = &report.configuration("x86_64", &[]).expect("built").failures;
    assert_eq!(failures.len(), 2, "{failures:?}");
    assert!(
        failures[0].message.contains("'../common/defs.h' file not found"),
        "{}",
        failures[0].message
    );

    let with_include = AbiConfig { include_dirs: vec!["include/common".into()], ..narrow };
    let report = check_revisions(repo.path(), &before, &after, &with_include).expect("check runs");
    let x86 = report.configuration("x86_64", &[]).expect("built");
    assert!(x86.failures.is_empty(), "{:?}", x86.failures);
    assert!(
        x86.type_change("struct req")
            .is_some_and(|t| t.changes.contains(&LayoutChange::Size { before: 8, after: 16 }))
    );
}

/// A patch can add a symlink; one leading out of the tree must not let clang read (and the
/// report quote) the machine's files.
#[test]
fn symlink_out_of_the_tree_is_not_followed() {
    let repo = Repo::new();
    let before = repo.commit("v1", &[("include/public/a.h", &header("struct a { int x; };"))]);
    std::os::unix::fs::symlink("/etc/passwd", repo.path().join("include/public/evil.h"))
        .expect("symlink");
    std::os::unix::fs::symlink("a.h", repo.path().join("include/public/alias.h")).expect("symlink");
    let after = repo.commit(
        "v2",
        &[
            ("include/public/b.h", "#include \"evil.h\"\n"),
            ("include/public/c.h", "#include \"alias.h\"\nstruct c { struct a a; };\n"),
        ],
    );
    let cfg = AbiConfig { targets: vec!["x86_64".into()], ..config() };
    let report = check_revisions(repo.path(), &before, &after, &cfg).expect("check runs");
    let x86 = report.configuration("x86_64", &[]).expect("built");
    let evil = x86.failures.iter().find(|f| f.header == "include/public/b.h").expect("b.h fails");
    assert!(evil.message.contains("'evil.h' file not found"), "{}", evil.message);
    assert!(!report.to_text().contains("root:"), "{}", report.to_text());
    assert!(
        x86.failures.iter().all(|f| f.header != "include/public/c.h"),
        "links within the tree still work"
    );
    assert!(x86.type_change("struct c").is_some_and(|t| t.status == TypeStatus::Added));
}
