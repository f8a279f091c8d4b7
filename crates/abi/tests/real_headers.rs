//! A real public header: the kernel's io_uring UAPI (`/usr/include/linux/io_uring.h`, from
//! linux-libc-dev, which clang's libc6-dev dependency brings). Its `struct io_uring_sqe` is
//! a 64-byte wire format made of nested anonymous unions: the reader must get every offset
//! the kernel and liburing rely on, and say plainly where the header cannot be built.
use std::path::Path;
use std::process::Command;

use quire_abi::compile::{Build, Outcome, compile};
use quire_abi::dwarf::read_layouts;
use quire_abi::{AbiConfig, Target, TypeKind, TypeLayout, build_layouts, check_trees};

const INCLUDE: &str = "/usr/include";
const HEADER: &str = "linux/io_uring.h";

fn require_header() {
    assert!(
        Path::new(INCLUDE).join(HEADER).is_file(),
        "{INCLUDE}/{HEADER} missing: apt-get install linux-libc-dev"
    );
}

fn io_uring_layouts(work: &Path) -> Vec<TypeLayout> {
    let target = Target::resolve("x86_64").expect("known");
    let build = Build {
        clang: Path::new("/usr/bin/clang"),
        tree: Path::new(INCLUDE),
        header: HEADER,
        target: &target,
        defines: &[],
        include_dirs: &[],
        prelude: &[],
        extra_args: &[],
    };
    match compile(&build, work).expect("clang runs") {
        Outcome::Object(bytes) => {
            read_layouts(&bytes, Path::new(INCLUDE), &target.triple, HEADER).expect("DWARF reads")
        }
        Outcome::Failed(message) => panic!("{HEADER} does not build for x86_64: {message}"),
    }
}

#[test]
fn io_uring_sqe_is_the_64_byte_wire_format_with_its_union_members_flattened() {
    require_header();
    let work = tempfile::tempdir().expect("temp dir");
    let layouts = io_uring_layouts(work.path());
    let sqe = layouts.iter().find(|l| l.name == "struct io_uring_sqe").expect("sqe read");
    assert_eq!((sqe.size, sqe.alignment, sqe.kind), (64, 8, TypeKind::Struct));
    assert_eq!(sqe.file, HEADER);
    let offset = |name: &str| sqe.member(name).map(|m| m.offset);
    // Members of anonymous unions are named as liburing names them: sqe->addr2, sqe->rw_flags.
    assert_eq!(offset("opcode"), Some(0));
    assert_eq!(offset("fd"), Some(4));
    assert_eq!(offset("off"), Some(8));
    assert_eq!(offset("addr2"), Some(8));
    assert_eq!(offset("addr"), Some(16));
    assert_eq!(offset("len"), Some(24));
    assert_eq!(offset("rw_flags"), Some(28));
    assert_eq!(offset("user_data"), Some(32));
    assert_eq!(offset("buf_index"), Some(40));
    let cqe = layouts.iter().find(|l| l.name == "struct io_uring_cqe").expect("cqe read");
    assert_eq!(cqe.size, 16);
    let ops = layouts.iter().find(|l| l.name == "enum io_uring_op").expect("opcodes read");
    assert_eq!(
        ops.enumerators.first().map(|e| (e.name.as_str(), e.value)),
        Some(("IORING_OP_NOP", 0))
    );
    assert!(!layouts.iter().any(|l| l.name.contains("__kernel_fsid_t") && l.file == HEADER));
}

#[test]
fn every_io_uring_layout_agrees_with_clang() {
    require_header();
    let work = tempfile::tempdir().expect("temp dir");
    let layouts = io_uring_layouts(work.path());
    let mut asserts = String::from("#include <stddef.h>\n#include <linux/io_uring.h>\n");
    let mut count = 0;
    for layout in layouts.iter().filter(|l| l.file == HEADER) {
        let ty = &layout.name;
        asserts.push_str(&format!(
            "_Static_assert(sizeof({ty}) == {}, \"size\");\n_Static_assert(_Alignof({ty}) == {}, \"align {ty}\");\n",
            layout.size, layout.alignment
        ));
        count += 2;
        for m in layout
            .members
            .iter()
            .filter(|m| m.bit_size.is_none() && !m.name.contains("<anonymous>"))
        {
            asserts.push_str(&format!(
                "_Static_assert(offsetof({ty}, {}) == {}, \"{ty}.{}\");\n",
                m.name, m.offset, m.name
            ));
            count += 1;
        }
    }
    let source = work.path().join("asserts.c");
    std::fs::write(&source, asserts).expect("write");
    let out = Command::new("/usr/bin/clang")
        .args(["--target=x86_64-linux-gnu", "-ffreestanding", "-fsyntax-only", "-ferror-limit=0"])
        .arg(&source)
        .output()
        .expect("clang runs");
    assert!(
        out.status.success(),
        "{count} assertions; clang disagrees:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(count > 150, "covers the header: {count}");
}

/// The UAPI headers of the build machine carry asm/ for its own architecture only: on the
/// other targets the header cannot be built, which is reported (on both sides, so not as a
/// break), with clang's first lines, never as a crash.
#[test]
fn header_unbuildable_on_foreign_targets_is_reported_per_target() {
    require_header();
    let targets: Vec<Target> =
        ["x86_64", "i386"].iter().map(|t| Target::resolve(t).expect("known")).collect();
    let reports = check_trees(
        Path::new(INCLUDE),
        Path::new(INCLUDE),
        &[HEADER.to_owned()],
        &targets,
        &AbiConfig::default(),
    )
    .expect("check runs");
    let x86_64 = &reports[0];
    assert!(x86_64.failures.is_empty() && x86_64.types.is_empty(), "{:?}", x86_64.failures);
    let i386 = &reports[1];
    assert_eq!(i386.failures.len(), 2, "before and after");
    assert!(!i386.is_breaking());
    let message = &i386.failures[0].message;
    assert!(
        message.contains("fatal error: 'asm/") && message.contains("file not found"),
        "{message}"
    );
    assert!(
        message.starts_with("In file included from"),
        "the include chain comes first: {message}"
    );
    assert!(message.lines().count() <= quire_abi::compile::DIAGNOSTIC_LINES);
}

fn x86_64_build<'a>(target: &'a Target, header: &'a str) -> Build<'a> {
    Build {
        clang: Path::new("/usr/bin/clang"),
        tree: Path::new(INCLUDE),
        header,
        target,
        defines: &[],
        include_dirs: &[],
        prelude: &[],
        extra_args: &[],
    }
}

/// Kernel UAPI headers full of `__attribute__((packed))` wire formats. Their members sit at
/// natural offsets, so DWARF alone makes them look unpacked; run over all 536 buildable
/// headers of linux/, the computed figures disagreed with clang on the alignment of packed
/// structs in 49 headers and nowhere else, and the probe build closes that gap (0 of 3185
/// types disagree). This pins the headers that showed it.
#[test]
fn packed_uapi_structs_get_the_compilers_alignment() {
    let headers = [
        "linux/virtio_net.h",
        "linux/virtio_blk.h",
        "linux/virtio_scsi.h",
        "linux/uhid.h",
        "linux/userfaultfd.h",
        "linux/target_core_user.h",
        "linux/vfio_ccw.h",
        "linux/wmi.h",
    ];
    let target = Target::resolve("x86_64").expect("known");
    let work = tempfile::tempdir().expect("temp dir");
    let mut checked = 0;
    for header in headers {
        assert!(
            Path::new(INCLUDE).join(header).is_file(),
            "{header} missing: apt-get install linux-libc-dev"
        );
        let build = x86_64_build(&target, header);
        let layouts =
            build_layouts(&build, work.path()).expect("clang runs").expect("header builds");
        let mut asserts = format!("#include <stddef.h>\n#include <{header}>\n");
        for layout in layouts.iter().filter(|l| l.file == header) {
            let ty = &layout.name;
            asserts.push_str(&format!(
                "_Static_assert(sizeof({ty}) == {}, \"size\");\n_Static_assert(_Alignof({ty}) == {}, \"align {ty}\");\n",
                layout.size, layout.alignment
            ));
            for m in layout.members.iter().filter(|m| m.bit_size.is_none()) {
                asserts.push_str(&format!(
                    "_Static_assert(offsetof({ty}, {}) == {}, \"{ty}.{}\");\n",
                    m.name, m.offset, m.name
                ));
            }
            checked += 1;
        }
        let source = work.path().join("asserts.c");
        std::fs::write(&source, asserts).expect("write");
        let out = Command::new("/usr/bin/clang")
            .args([
                "--target=x86_64-linux-gnu",
                "-ffreestanding",
                "-fsyntax-only",
                "-ferror-limit=0",
                "-w",
            ])
            .arg(&source)
            .output()
            .expect("clang runs");
        assert!(
            out.status.success(),
            "{header}: clang disagrees:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert!(checked > 60, "{checked} types");

    let build = x86_64_build(&target, "linux/virtio_net.h");
    let layouts = build_layouts(&build, work.path()).expect("clang runs").expect("builds");
    let config = layouts.iter().find(|l| l.name == "struct virtio_net_config").expect("read");
    assert_eq!((config.alignment, config.packed), (1, true));
    let Outcome::Object(bytes) = compile(&build, work.path()).expect("clang runs") else {
        panic!("builds")
    };
    let computed =
        read_layouts(&bytes, Path::new(INCLUDE), &target.triple, "virtio_net.h").expect("reads");
    let guessed = computed.iter().find(|l| l.name == "struct virtio_net_config").expect("read");
    assert!(guessed.alignment > 1, "DWARF alone cannot see this packing: the probe is needed");
}
