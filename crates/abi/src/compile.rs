//! Builds one header for one target and macro set with clang, keeping the DWARF of every type.
use std::path::Path;
use std::process::Command;

use crate::config::Target;
use crate::error::{Error, Result, io};

/// How many lines of clang's diagnostics a report keeps: the first error and its context are
/// what a reviewer needs; the rest usually follows from it.
pub const DIAGNOSTIC_LINES: usize = 8;

/// One build: `header` (relative to `tree`) after the prelude lines.
#[derive(Debug, Clone)]
pub struct Build<'a> {
    pub clang: &'a Path,
    pub tree: &'a Path,
    pub header: &'a str,
    pub target: &'a Target,
    pub defines: &'a [String],
    pub include_dirs: &'a [String],
    pub prelude: &'a [String],
    pub extra_args: &'a [String],
}

/// What clang made of a header: an object file, or its first lines of complaint.
#[derive(Debug)]
pub enum Outcome {
    Object(Vec<u8>),
    Failed(String),
}

/// Checks that the compiler is there before any work starts, so that a missing clang is one
/// clear line rather than a compile failure per header.
pub fn ensure_clang(clang: &Path) -> Result<()> {
    match Command::new(clang).arg("--version").output() {
        Ok(out) if out.status.success() => Ok(()),
        _ => Err(Error::ClangMissing { path: clang.to_owned() }),
    }
}

/// The translation unit: the prelude, then the header by absolute path so that its own
/// `#include "..."` lines resolve next to it.
pub fn translation_unit(tree: &Path, header: &str, prelude: &[String]) -> String {
    let mut tu = String::from("/* quire abi: layout probe */\n");
    for line in prelude {
        tu.push_str(line);
        tu.push('\n');
    }
    let path = tree.join(header);
    tu.push_str(&format!("#include \"{}\"\n", path.display()));
    tu
}

/// `-ffreestanding` so no target libc is needed (clang ships stdint.h/stddef.h itself), and
/// `-fno-eliminate-unused-debug-types` so types the TU declares but never uses — all of them,
/// in a header — still reach the DWARF.
pub fn compile(build: &Build<'_>, workdir: &Path) -> Result<Outcome> {
    compile_source(build, workdir, "", "")
}

/// The same build with C code after the `#include`: a probe asking the compiler for values
/// DWARF does not hold (see [`crate::check::build_layouts`]).
pub fn compile_with_epilogue(build: &Build<'_>, workdir: &Path, epilogue: &str) -> Result<Outcome> {
    compile_source(build, workdir, epilogue, "-probe")
}

fn compile_source(
    build: &Build<'_>,
    workdir: &Path,
    epilogue: &str,
    suffix: &str,
) -> Result<Outcome> {
    let stem = format!(
        "{}-{}-{:x}{suffix}",
        build.target.name.replace(['/', ' '], "_"),
        build.header.replace(['/', ' ', '.'], "_"),
        fingerprint(build.defines)
    );
    let source = workdir.join(format!("{stem}.c"));
    let object = workdir.join(format!("{stem}.o"));
    let mut tu = translation_unit(build.tree, build.header, build.prelude);
    tu.push_str(epilogue);
    std::fs::write(&source, tu).map_err(io(format!("writing {}", source.display())))?;
    let mut cmd = Command::new(build.clang);
    cmd.arg(format!("--target={}", build.target.triple))
        .args(["-ffreestanding", "-g", "-c", "-fno-eliminate-unused-debug-types"])
        .args(["-w", "-fno-color-diagnostics", "-ferror-limit=3", "-x", "c"]);
    for dir in build.include_dirs {
        cmd.arg("-I").arg(build.tree.join(dir));
    }
    cmd.args(build.defines).args(build.extra_args).arg(&source).arg("-o").arg(&object);
    let out = cmd.output().map_err(|_| Error::ClangMissing { path: build.clang.to_owned() })?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        return Ok(Outcome::Failed(diagnostic(&stderr, build.tree, workdir)));
    }
    let bytes = std::fs::read(&object).map_err(io(format!("reading {}", object.display())))?;
    let _ = std::fs::remove_file(&object);
    let _ = std::fs::remove_file(&source);
    Ok(Outcome::Object(bytes))
}

fn fingerprint(defines: &[String]) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    defines.hash(&mut h);
    h.finish()
}

/// clang's first error with a little context, with the temporary directories cut out of
/// paths so that the message reads `include/foo.h:3:1: error: ...` as in the reviewer's own
/// tree. A deep include chain is cut to its last links so the error itself always shows.
pub fn diagnostic(stderr: &str, tree: &Path, workdir: &Path) -> String {
    let tree_prefix = format!("{}/", tree.display());
    let work_prefix = format!("{}/", workdir.display());
    // The probe file itself is no part of the user's tree: its line says nothing to them.
    let from_probe = format!("In file included from {work_prefix}");
    let mut lines: Vec<String> = Vec::new();
    let mut quoting_outside = false;
    for line in stderr.lines().filter(|l| !l.trim().is_empty() && !l.starts_with(&from_probe)) {
        let line = line.replace(&tree_prefix, "").replace(&work_prefix, "");
        if is_diagnostic_line(&line) {
            quoting_outside = !names_file_of_tree(&line, tree);
        } else if quoting_outside {
            // clang quotes the offending source line; a patch saying `#include "/etc/..."`
            // must not get lines of the machine's files into a public report.
            continue;
        }
        lines.push(line);
    }
    let first_error = lines.iter().position(|l| l.contains("error:")).unwrap_or(0);
    let start = first_error.saturating_sub(CHAIN_LINES);
    let kept: Vec<&str> =
        lines.iter().skip(start).take(DIAGNOSTIC_LINES).map(String::as_str).collect();
    if kept.is_empty() { "clang failed without a message".to_owned() } else { kept.join("\n") }
}

/// Whether a diagnostic line's file (already made relative) stays inside the tree: an
/// absolute path, or `include/../../../etc/x`, does not.
fn names_file_of_tree(line: &str, tree: &Path) -> bool {
    let path = line.trim_start_matches("In file included from ").split(':').next().unwrap_or("");
    if path.starts_with('/') {
        return false;
    }
    let root = crate::dwarf::normalize(tree);
    let mut depth: i64 = 0;
    for part in Path::new(path).components() {
        match part {
            std::path::Component::ParentDir => depth -= 1,
            std::path::Component::Normal(_) => depth += 1,
            _ => {}
        }
        if depth < 0 {
            return false;
        }
    }
    crate::dwarf::normalize(&root.join(path)).starts_with(&root)
}

fn is_diagnostic_line(line: &str) -> bool {
    line.starts_with("In file included from ")
        || [": error:", ": fatal error:", ": warning:", ": note:"].iter().any(|k| line.contains(k))
}

/// `In file included from` lines kept before the first error.
const CHAIN_LINES: usize = 3;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deep_include_chain_is_cut_so_the_error_shows() {
        let stderr = "In file included from /w/tu.c:2:\nIn file included from /t/a.h:1:\nIn file included from /t/b.h:1:\n\
                      In file included from /t/c.h:1:\nIn file included from /t/d.h:1:\n/t/e.h:3:1: error: unknown type name 'x'\n\
                      x y;\n^\n1 error generated.\n";
        let message = diagnostic(stderr, Path::new("/t"), Path::new("/w"));
        let lines: Vec<&str> = message.lines().collect();
        assert_eq!(lines[0], "In file included from b.h:1:");
        assert_eq!(lines[3], "e.h:3:1: error: unknown type name 'x'");
        assert!(lines.len() <= DIAGNOSTIC_LINES);
        assert!(!message.contains("tu.c"), "the probe file is not the user's: {message}");
    }

    #[test]
    fn source_lines_of_files_outside_the_tree_are_not_quoted() {
        let stderr = "In file included from /w/tu.c:2:\n/t/evil.h:1:10: note: in file included from here\n\
                      #include \"/etc/secret\"\n         ^\n/etc/secret:1:1: error: unknown type name 'root'\n\
                      root:x:0:0:hunter2\n^\n";
        let message = diagnostic(stderr, Path::new("/t"), Path::new("/w"));
        assert!(message.contains("evil.h:1:10: note"), "{message}");
        assert!(
            message.contains("#include \"/etc/secret\""),
            "lines of the tree are quoted: {message}"
        );
        assert!(message.contains("/etc/secret:1:1: error: unknown type name 'root'"), "{message}");
        assert!(!message.contains("hunter2"), "{message}");

        let climbing = "/t/inc/evil.h:1:10: note: here\n#include \"../../etc/secret\"\n\
                        /t/inc/../../etc/secret:1:1: error: unknown type name 'root'\nroot:x:0:0:hunter2\n";
        let message = diagnostic(climbing, Path::new("/t"), Path::new("/w"));
        assert!(message.contains("inc/../../etc/secret:1:1: error"), "{message}");
        assert!(!message.contains("hunter2"), "{message}");
    }
}
