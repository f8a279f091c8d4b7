//! The whole check: two revisions in, a report out.
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::compile::{Build, Outcome, compile, compile_with_epilogue, ensure_clang};
use crate::config::{AbiConfig, Target};
use crate::diff::compare_layouts;
use crate::dwarf::{read_enum, read_layouts};
use crate::error::{Error, Result, io};
use crate::git::{changed_paths, directories_needed, extract_tree, resolve_commit};
use crate::layout::TypeLayout;
use crate::report::{
    CompileFailure, ConfigurationReport, Report, Revision, Shape, TypeChange, TypeStatus,
};

/// Compares the public headers of `before` and `after` in the git repository at `repo`: only
/// headers matching `cfg.headers` that differ between the two are built. Read-only for the
/// repository: the two trees are written to a temporary directory with `git archive`.
pub fn check_revisions(repo: &Path, before: &str, after: &str, cfg: &AbiConfig) -> Result<Report> {
    ensure_clang(&cfg.clang)?;
    let targets = cfg.resolved_targets()?;
    let matcher = cfg.header_matcher()?;
    let before_commit = resolve_commit(repo, before)?;
    let after_commit = resolve_commit(repo, after)?;
    let mut headers: Vec<String> = changed_paths(repo, &before_commit, &after_commit)?
        .into_iter()
        .filter(|p| matcher.is_match(p))
        .collect();
    headers.sort();
    let mut report = Report {
        before: before_commit.clone(),
        after: after_commit.clone(),
        headers,
        configurations: Vec::new(),
    };
    if report.headers.is_empty() {
        return Ok(report);
    }
    let scratch = tempfile::Builder::new()
        .prefix("quire-abi-")
        .tempdir()
        .map_err(io("creating a temporary directory"))?;
    let before_tree = scratch.path().join("before");
    let after_tree = scratch.path().join("after");
    let dirs = directories_needed(&cfg.headers, &cfg.include_dirs);
    extract_tree(repo, &before_commit, &before_tree, dirs.as_deref())?;
    extract_tree(repo, &after_commit, &after_tree, dirs.as_deref())?;
    report.configurations = check_trees(&before_tree, &after_tree, &report.headers, &targets, cfg)?;
    Ok(report)
}

/// What one side of one header gave under one configuration.
#[derive(Debug)]
enum Side {
    Absent,
    Failed(String),
    Types(Vec<TypeLayout>),
}

struct Job<'a> {
    config: usize,
    header: usize,
    revision: Revision,
    tree: &'a Path,
    target: &'a Target,
    defines: &'a [String],
}

/// The check on two trees already on disk (a checks worker with applied trees can call this
/// directly). `headers` are paths relative to both roots. Trees from untrusted patches should
/// go through [`crate::git::remove_escaping_symlinks`] first, as [`check_revisions`] does.
pub fn check_trees(
    before_tree: &Path,
    after_tree: &Path,
    headers: &[String],
    targets: &[Target],
    cfg: &AbiConfig,
) -> Result<Vec<ConfigurationReport>> {
    ensure_clang(&cfg.clang)?;
    let before_tree = canonical(before_tree)?;
    let after_tree = canonical(after_tree)?;
    let macro_sets = cfg.effective_macro_sets();
    let configs: Vec<(&Target, &[String])> =
        targets.iter().flat_map(|t| macro_sets.iter().map(move |m| (t, m.as_slice()))).collect();
    let mut jobs = Vec::new();
    for (config, (target, defines)) in configs.iter().enumerate() {
        for header in 0..headers.len() {
            for (revision, tree) in
                [(Revision::Before, &before_tree), (Revision::After, &after_tree)]
            {
                jobs.push(Job { config, header, revision, tree, target, defines });
            }
        }
    }
    let scratch = tempfile::Builder::new()
        .prefix("quire-abi-build-")
        .tempdir()
        .map_err(io("creating a temporary directory"))?;
    let sides = run_jobs(&jobs, headers, cfg, scratch.path())?;
    let mut reports = Vec::new();
    for (config, (target, defines)) in configs.iter().enumerate() {
        let mut report = ConfigurationReport {
            target: (*target).clone(),
            defines: defines.to_vec(),
            failures: Vec::new(),
            types: Vec::new(),
        };
        let mut before_types: Vec<TypeLayout> = Vec::new();
        let mut after_types: Vec<TypeLayout> = Vec::new();
        for (index, header) in headers.iter().enumerate() {
            let before = sides.get(&(config, index, Revision::Before)).unwrap_or(&Side::Absent);
            let after = sides.get(&(config, index, Revision::After)).unwrap_or(&Side::Absent);
            collect_side_types(
                header,
                before,
                after,
                &mut report,
                &mut before_types,
                &mut after_types,
            );
        }
        report.types = type_changes(&before_types, &after_types);
        reports.push(report);
    }
    Ok(reports)
}

fn canonical(path: &Path) -> Result<PathBuf> {
    path.canonicalize().map_err(io(format!("opening {}", path.display())))
}

/// Builds every job on a few threads: clang is the slow part and each build is independent.
fn run_jobs(
    jobs: &[Job<'_>],
    headers: &[String],
    cfg: &AbiConfig,
    scratch: &Path,
) -> Result<HashMap<(usize, usize, Revision), Side>> {
    let next = AtomicUsize::new(0);
    let results: Mutex<HashMap<(usize, usize, Revision), Side>> = Mutex::new(HashMap::new());
    let first_error: Mutex<Option<Error>> = Mutex::new(None);
    let workers = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .clamp(1, 4)
        .min(jobs.len().max(1));
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(job) = jobs.get(i) else { break };
                    if first_error.lock().map(|e| e.is_some()).unwrap_or(true) {
                        break;
                    }
                    let Some(header) = headers.get(job.header) else { continue };
                    match build_side(job, header, cfg, scratch) {
                        Ok(side) => {
                            if let Ok(mut r) = results.lock() {
                                r.insert((job.config, job.header, job.revision), side);
                            }
                        }
                        Err(e) => {
                            if let Ok(mut slot) = first_error.lock() {
                                slot.get_or_insert(e);
                            }
                        }
                    }
                }
            });
        }
    });
    if let Some(e) = first_error.into_inner().ok().flatten() {
        return Err(e);
    }
    Ok(results.into_inner().unwrap_or_default())
}

fn build_side(job: &Job<'_>, header: &str, cfg: &AbiConfig, scratch: &Path) -> Result<Side> {
    if !job.tree.join(header).is_file() {
        return Ok(Side::Absent);
    }
    let workdir = scratch.join(match job.revision {
        Revision::Before => "before",
        Revision::After => "after",
    });
    std::fs::create_dir_all(&workdir).map_err(io(format!("creating {}", workdir.display())))?;
    let build = Build {
        clang: &cfg.clang,
        tree: job.tree,
        header,
        target: job.target,
        defines: job.defines,
        include_dirs: &cfg.include_dirs,
        prelude: &cfg.prelude,
        extra_args: &cfg.clang_args,
    };
    match build_layouts(&build, &workdir)? {
        Err(message) => Ok(Side::Failed(message)),
        Ok(types) => Ok(Side::Types(types)),
    }
}

/// Name of the enum a probe declares; reserved-looking so no header uses it.
const PROBE_ENUM: &str = "__quire_abi_alignments";

/// Builds one header and reads its layouts: `Ok(Err(message))` when clang refuses the header.
///
/// Alignment needs a second, probe build: DWARF does not record `packed`, so a packed struct
/// whose members sit at natural offsets (common in virtio and other wire formats) cannot be
/// told from an unpacked one. The probe declares an enum whose values are `_Alignof` of
/// every type read, and the compiler's answer replaces the computed one. If the probe does
/// not build, the computed alignments stay.
pub fn build_layouts(
    build: &Build<'_>,
    workdir: &Path,
) -> Result<std::result::Result<Vec<TypeLayout>, String>> {
    let what = format!("{} for {}", build.header, build.target.triple);
    let mut layouts = match compile(build, workdir)? {
        Outcome::Failed(message) => return Ok(Err(message)),
        Outcome::Object(bytes) => read_layouts(&bytes, build.tree, &build.target.triple, &what)?,
    };
    if layouts.is_empty() {
        return Ok(Ok(layouts));
    }
    let mut probe = format!("enum {PROBE_ENUM} {{\n");
    for (index, layout) in layouts.iter().enumerate() {
        probe.push_str(&format!("    __quire_abi_align_{index} = _Alignof({}),\n", layout.name));
    }
    probe.push_str("};\n");
    if let Outcome::Object(bytes) = compile_with_epilogue(build, workdir, &probe)? {
        for enumerator in read_enum(&bytes, PROBE_ENUM, &what)? {
            let index = enumerator
                .name
                .strip_prefix("__quire_abi_align_")
                .and_then(|i| i.parse::<usize>().ok());
            let (Some(layout), Ok(alignment)) =
                (index.and_then(|i| layouts.get_mut(i)), u64::try_from(enumerator.value))
            else {
                continue;
            };
            if alignment < layout.alignment {
                layout.packed = true;
            }
            layout.alignment = alignment;
        }
    }
    Ok(Ok(layouts))
}

/// Adds what one header gave to the before/after sets of its configuration. A header that
/// failed on either side contributes nothing (its types would otherwise all look removed or
/// added); a header that exists on one side only contributes the types it declares itself,
/// not those of older headers it includes, which did not change.
fn collect_side_types(
    header: &str,
    before: &Side,
    after: &Side,
    report: &mut ConfigurationReport,
    before_types: &mut Vec<TypeLayout>,
    after_types: &mut Vec<TypeLayout>,
) {
    if let Side::Failed(message) = before {
        report.failures.push(CompileFailure {
            header: header.to_owned(),
            revision: Revision::Before,
            message: message.clone(),
            breaking: false,
        });
    }
    if let Side::Failed(message) = after {
        report.failures.push(CompileFailure {
            header: header.to_owned(),
            revision: Revision::After,
            message: message.clone(),
            breaking: matches!(before, Side::Types(_)),
        });
    }
    let own = |types: &[TypeLayout]| -> Vec<TypeLayout> {
        types.iter().filter(|t| t.file == header).cloned().collect()
    };
    match (before, after) {
        (Side::Types(b), Side::Types(a)) => {
            merge(before_types, b.to_vec());
            merge(after_types, a.to_vec());
        }
        (Side::Absent, Side::Types(a)) => merge(after_types, own(a)),
        (Side::Types(b), Side::Absent) => merge(before_types, own(b)),
        _ => {}
    }
}

/// Types are known by name and declaring header: the same tag may be declared differently by
/// two headers never included together (Xen's arch-x86 and arch-arm variants of one struct),
/// and each is checked on its own.
fn merge(into: &mut Vec<TypeLayout>, types: Vec<TypeLayout>) {
    for t in types {
        if !into.iter().any(|known| known.name == t.name && known.file == t.file) {
            into.push(t);
        }
    }
}

fn shape(t: &TypeLayout) -> Shape {
    Shape { size: t.size, alignment: t.alignment }
}

/// Pairs each type before with its counterpart after: same name in the same header first,
/// then same name in another header (a type moved between headers is the same type to C).
fn pair_types<'a>(
    before: &'a [TypeLayout],
    after: &'a [TypeLayout],
) -> Vec<(Option<&'a TypeLayout>, Option<&'a TypeLayout>)> {
    let mut used = vec![false; after.len()];
    let mut partner: Vec<Option<usize>> = vec![None; before.len()];
    for same_header in [true, false] {
        let same =
            |o: &TypeLayout, n: &TypeLayout| o.name == n.name && (!same_header || o.file == n.file);
        for (i, old) in before.iter().enumerate() {
            if partner.get(i).copied().flatten().is_some() {
                continue;
            }
            let found = after
                .iter()
                .enumerate()
                .find(|(j, new)| !used.get(*j).copied().unwrap_or(true) && same(old, new));
            if let Some((j, _)) = found {
                used[j] = true;
                partner[i] = Some(j);
            }
        }
    }
    let mut pairs: Vec<_> = before
        .iter()
        .zip(&partner)
        .map(|(old, p)| (Some(old), p.and_then(|j| after.get(j))))
        .collect();
    pairs.extend(after.iter().zip(&used).filter(|(_, u)| !**u).map(|(new, _)| (None, Some(new))));
    pairs
}

fn type_changes(before: &[TypeLayout], after: &[TypeLayout]) -> Vec<TypeChange> {
    let mut out = Vec::new();
    for pair in pair_types(before, after) {
        match pair {
            (Some(old), None) => out.push(TypeChange {
                name: old.name.clone(),
                kind: old.kind,
                file: old.file.clone(),
                status: TypeStatus::Removed,
                breaking: true,
                before: Some(shape(old)),
                after: None,
                changes: Vec::new(),
            }),
            (Some(old), Some(new)) => {
                let changes = compare_layouts(old, new);
                if !changes.is_empty() {
                    out.push(TypeChange {
                        name: old.name.clone(),
                        kind: new.kind,
                        file: new.file.clone(),
                        status: TypeStatus::Changed,
                        breaking: changes.iter().any(|c| c.is_breaking()),
                        before: Some(shape(old)),
                        after: Some(shape(new)),
                        changes,
                    });
                }
            }
            (None, Some(new)) => out.push(TypeChange {
                name: new.name.clone(),
                kind: new.kind,
                file: new.file.clone(),
                status: TypeStatus::Added,
                breaking: false,
                before: None,
                after: Some(shape(new)),
                changes: Vec::new(),
            }),
            (None, None) => {}
        }
    }
    out
}
