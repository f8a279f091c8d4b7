//! The layouts read from DWARF, and the alignments computed from them, must be the ones the
//! compiler uses: checked against clang itself (`_Static_assert` on `sizeof`, `_Alignof`,
//! `offsetof`) and against pahole reading the same objects.
use std::path::Path;
use std::process::Command;

use quire_abi::compile::{Build, Outcome, compile};
use quire_abi::dwarf::read_layouts;
use quire_abi::{DEFAULT_TARGETS, Target, TypeKind, TypeLayout};

/// Every layout rule the reader knows, in one header.
const RICH_HEADER: &str = r#"
typedef uint64_t uint64_aligned_t __attribute__((aligned(8)));
typedef int short_aligned_int __attribute__((aligned(2)));
struct xen_foo { uint32_t a; uint64_aligned_t b; uint32_t c; uint64_t d; };
struct scalars { char c; short s; long l; long long ll; float f; double d; long double ld; void *p; };
struct complexes { char c; _Complex double z; _Complex float w; };
typedef struct { int x; char y; } anon_t;
union u { int i; double d; char bytes[3]; };
#pragma pack(push, 1)
struct packed1 { char c; int i; short s; };
#pragma pack(pop)
#pragma pack(push, 2)
struct packed2 { char c; int i; long long q; };
#pragma pack(pop)
struct attr_packed { char c; uint64_t v; } __attribute__((packed));
struct bits { unsigned a:3; unsigned b:5; int c; unsigned long long wide:40; char tail; };
struct nest { int a; struct { short s; char c; } inner; union { int q; float f; }; long long after; };
struct al16 { int x; } __attribute__((aligned(16)));
struct holds_al16 { char c; struct al16 a; };
struct member_aligned { char c; int i __attribute__((aligned(16))); };
struct lowered { char c; short_aligned_int i; };
struct arrays { char c; uint16_t grid[3][5]; struct xen_foo foos[2]; };
struct fnptr { void (*cb)(int, void *); char tag; };
enum small { SMALL_A = 1, SMALL_B = 200 };
enum negative { NEG_A = -5, NEG_B = 7 };
struct with_enum { char c; enum small e; };
struct flexible { uint32_t n; uint64_t items[]; };
"#;

fn build(target: &Target, dir: &Path) -> Vec<TypeLayout> {
    std::fs::write(dir.join("rich.h"), RICH_HEADER).expect("write header");
    let prelude = vec!["#include <stdint.h>".to_owned()];
    let build = Build {
        clang: Path::new("/usr/bin/clang"),
        tree: dir,
        header: "rich.h",
        target,
        defines: &[],
        include_dirs: &[],
        prelude: &prelude,
        extra_args: &[],
    };
    let work = dir.join("work");
    std::fs::create_dir_all(&work).expect("work dir");
    match compile(&build, &work).expect("clang runs") {
        Outcome::Object(bytes) => {
            std::fs::write(dir.join(format!("{}.o", target.name)), &bytes).expect("keep object");
            read_layouts(&bytes, dir, &target.triple, "rich.h").expect("DWARF reads")
        }
        Outcome::Failed(message) => {
            panic!("rich.h does not compile for {}: {message}", target.triple)
        }
    }
}

fn targets() -> Vec<Target> {
    DEFAULT_TARGETS.iter().map(|(name, _)| Target::resolve(name).expect("known")).collect()
}

fn temp_tree() -> tempfile::TempDir {
    let dir = tempfile::Builder::new().prefix("quire-abi-agree-").tempdir().expect("temp dir");
    // Canonical, as check_trees makes it: DWARF records the real path.
    let _ = dir.path().canonicalize();
    dir
}

/// A C expression naming the type, for `sizeof` and friends.
fn c_type(layout: &TypeLayout) -> String {
    layout.name.clone()
}

#[test]
fn every_type_of_the_header_reaches_the_dwarf_though_nothing_uses_it() {
    let dir = temp_tree();
    let root = dir.path().canonicalize().expect("canonical");
    let layouts = build(&targets()[0], &root);
    let names: Vec<&str> = layouts.iter().map(|l| l.name.as_str()).collect();
    for expected in [
        "struct xen_foo",
        "struct scalars",
        "anon_t",
        "union u",
        "struct packed1",
        "struct packed2",
        "struct attr_packed",
        "struct bits",
        "struct nest",
        "struct al16",
        "struct member_aligned",
        "struct lowered",
        "struct arrays",
        "struct fnptr",
        "enum small",
        "enum negative",
        "struct flexible",
    ] {
        assert!(names.contains(&expected), "{expected} missing from {names:?}");
    }
    assert!(
        !names.iter().any(|n| n.contains("int64_t") || n.contains("max_align")),
        "prelude types stay out: {names:?}"
    );
    let negative = layouts.iter().find(|l| l.name == "enum negative").expect("enum");
    assert_eq!(negative.enumerators.iter().map(|e| e.value).collect::<Vec<_>>(), vec![-5, 7]);
    let fnptr = layouts.iter().find(|l| l.name == "struct fnptr").expect("fnptr");
    assert_eq!(fnptr.members[0].type_name, "void (*)(int, void *)");
}

/// The strongest check there is: clang compiles assertions of every size, alignment and
/// offset the reader produced, on each default target.
#[test]
fn sizes_alignments_and_offsets_agree_with_clang_on_every_default_target() {
    for target in targets() {
        let dir = temp_tree();
        let root = dir.path().canonicalize().expect("canonical");
        let layouts = build(&target, &root);
        let mut asserts =
            String::from("#include <stdint.h>\n#include <stddef.h>\n#include \"rich.h\"\n");
        let mut count = 0;
        for layout in &layouts {
            let ty = c_type(layout);
            asserts.push_str(&format!(
                "_Static_assert(sizeof({ty}) == {}, \"size of {ty}\");\n_Static_assert(_Alignof({ty}) == {}, \"alignment of {ty}: {}\");\n",
                layout.size, layout.alignment, layout.alignment
            ));
            count += 2;
            if layout.kind == TypeKind::Enum {
                continue;
            }
            for m in layout.members.iter().filter(|m| m.bit_size.is_none()) {
                asserts.push_str(&format!(
                    "_Static_assert(offsetof({ty}, {}) == {}, \"offset of {ty}.{}\");\n",
                    m.name, m.offset, m.name
                ));
                count += 1;
            }
        }
        std::fs::write(root.join("asserts.c"), &asserts).expect("write asserts");
        let out = Command::new("/usr/bin/clang")
            .arg(format!("--target={}", target.triple))
            .args(["-ffreestanding", "-fsyntax-only", "-ferror-limit=0"])
            .arg(root.join("asserts.c"))
            .output()
            .expect("clang runs");
        assert!(
            out.status.success(),
            "{}: {count} assertions, clang disagrees:\n{}",
            target.triple,
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(count > 80, "the check covers the header: {count}");
    }
}

/// pahole's view of one struct: size and the offsets of top-level members.
#[derive(Debug, Default)]
struct PaholeStruct {
    size: Option<u64>,
    members: Vec<(String, u64, u64)>,
    /// Bit-fields: name, byte offset, bit within it, storage size.
    bit_fields: Vec<(String, u64, u64, u64)>,
}

/// Reads `pahole`'s C-like output: `type name; /* offset size */` at the first nesting
/// level, and `/* size: N, ...` closing each struct.
fn parse_pahole(output: &str) -> std::collections::HashMap<String, PaholeStruct> {
    let mut structs = std::collections::HashMap::new();
    let mut current: Option<(String, PaholeStruct)> = None;
    let mut depth = 0usize;
    for line in output.lines() {
        let trimmed = line.trim();
        if depth == 0 {
            let rest = trimmed.strip_prefix("struct ").or_else(|| trimmed.strip_prefix("union "));
            if let Some(name) = rest.and_then(|r| r.strip_suffix(" {")) {
                let kind = if trimmed.starts_with("struct") { "struct" } else { "union" };
                current = Some((format!("{kind} {name}"), PaholeStruct::default()));
                depth = 1;
            }
            continue;
        }
        let opens = trimmed.ends_with('{');
        if trimmed.starts_with('}') {
            depth -= 1;
            if depth == 0
                && let Some((name, s)) = current.take()
            {
                structs.insert(name, s);
            }
            continue;
        }
        if opens {
            depth += 1;
            continue;
        }
        let Some((_, s)) = current.as_mut() else { continue };
        if let Some(rest) = trimmed.strip_prefix("/* size: ") {
            s.size = rest.split(',').next().and_then(|n| n.trim().parse().ok());
            continue;
        }
        if depth != 1 || trimmed.starts_with("/*") {
            continue;
        }
        // `uint32_t a;   /*     0     4 */`, bit-fields `unsigned int b:5;  /*     0: 3  4 */`
        let Some((decl, comment)) = trimmed.split_once("/*") else { continue };
        let numbers: Vec<&str> = comment.trim_end_matches("*/").split_whitespace().collect();
        let decl = decl.trim().trim_end_matches(';');
        let decl = decl.split(" __attribute__").next().unwrap_or(decl);
        let Some(name) = decl.split_whitespace().last() else { continue };
        let name = name.trim_start_matches('*').split(['[', ':']).next().unwrap_or(name).to_owned();
        match numbers.as_slice() {
            [offset, size] => {
                let (Ok(offset), Ok(size)) = (offset.parse::<u64>(), size.parse::<u64>()) else {
                    continue;
                };
                s.members.push((name, offset, size));
            }
            [offset, bit, size] if offset.ends_with(':') => {
                let parsed = (
                    offset.trim_end_matches(':').parse::<u64>(),
                    bit.parse::<u64>(),
                    size.parse::<u64>(),
                );
                let (Ok(offset), Ok(bit), Ok(size)) = parsed else { continue };
                s.bit_fields.push((name, offset, bit, size));
            }
            _ => {}
        }
    }
    structs
}

#[test]
fn layout_figures_agree_with_pahole_on_the_same_objects() {
    for name in ["x86_64", "i386"] {
        let target = Target::resolve(name).expect("known");
        let dir = temp_tree();
        let root = dir.path().canonicalize().expect("canonical");
        let layouts = build(&target, &root);
        let out = Command::new("pahole")
            .arg(root.join(format!("{name}.o")))
            .output()
            .expect("pahole runs (apt-get install pahole)");
        assert!(out.status.success(), "pahole: {}", String::from_utf8_lossy(&out.stderr));
        let pahole = parse_pahole(&String::from_utf8_lossy(&out.stdout));
        let mut compared = 0;
        for struct_name in [
            "struct xen_foo",
            "struct scalars",
            "struct packed1",
            "struct packed2",
            "struct attr_packed",
            "struct arrays",
            "struct al16",
            "struct holds_al16",
            "struct nest",
        ] {
            let ours = layouts.iter().find(|l| l.name == struct_name).expect("read by us");
            let theirs = pahole
                .get(struct_name)
                .unwrap_or_else(|| panic!("{name}: pahole shows no {struct_name}"));
            assert_eq!(theirs.size, Some(ours.size), "{name} {struct_name} size");
            assert!(!theirs.members.is_empty(), "{name} {struct_name}: parsed members");
            for (member, offset, size) in &theirs.members {
                let m = ours
                    .member(member)
                    .unwrap_or_else(|| panic!("{name} {struct_name}.{member} unknown to us"));
                assert_eq!((m.offset, m.size), (*offset, *size), "{name} {struct_name}.{member}");
                compared += 1;
            }
        }
        let bits = &pahole["struct bits"];
        let ours = layouts.iter().find(|l| l.name == "struct bits").expect("read by us");
        assert_eq!(bits.bit_fields.len(), 3, "{name}: {:?}", bits.bit_fields);
        for (member, offset, bit, size) in &bits.bit_fields {
            let m = ours.member(member).expect("bit-field known");
            assert_eq!(m.bit_offset, Some(offset * 8 + bit), "{name} bits.{member}");
            assert_eq!(m.size, *size, "{name} bits.{member} storage");
        }
        assert!(compared >= 25, "{name}: compared {compared} members");
        // The case the whole crate exists for, as pahole prints it.
        let xen = &pahole["struct xen_foo"];
        let expected_d = if name == "i386" { 20 } else { 24 };
        assert!(
            xen.members.contains(&("d".to_owned(), expected_d, 8)),
            "{name}: {:?}",
            xen.members
        );
    }
}
