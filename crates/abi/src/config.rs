//! What to check: which headers, built how, for which targets.
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

use crate::error::{Error, Result};

/// The ABI check's settings; deserializable so it can live in the project's TOML as an `[abi]`
/// table. Every field has a default, so `AbiConfig::default()` checks every `*.h` of the tree
/// on the four default targets without extra macros.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AbiConfig {
    /// Globs (relative to the tree's root) of the public headers, e.g. `xen/include/public/**/*.h`.
    pub headers: Vec<String>,
    /// Include directories relative to the tree's root, passed as `-I`. Only these and the
    /// directories the header globs start in are extracted from git, so a directory public
    /// headers reach with `#include "../other/x.h"` must be listed here.
    pub include_dirs: Vec<String>,
    /// Lines put before `#include "header"`, e.g. `#include <stdint.h>`.
    pub prelude: Vec<String>,
    /// Each set is one build of every header: `[[], ["-D__XEN_TOOLS__"]]` builds twice.
    pub macro_sets: Vec<Vec<String>>,
    /// Short names (`x86_64`, `i386`, `aarch64`, `arm`) or clang triples.
    pub targets: Vec<String>,
    /// The C compiler; must be clang (its freestanding headers make a target libc unnecessary).
    pub clang: PathBuf,
    /// Further arguments given to clang as they are, e.g. `-std=gnu99`.
    pub clang_args: Vec<String>,
}

impl Default for AbiConfig {
    fn default() -> Self {
        AbiConfig {
            headers: vec!["**/*.h".to_owned()],
            include_dirs: Vec::new(),
            prelude: Vec::new(),
            macro_sets: vec![Vec::new()],
            targets: DEFAULT_TARGETS.iter().map(|t| t.0.to_owned()).collect(),
            clang: PathBuf::from("/usr/bin/clang"),
            clang_args: Vec::new(),
        }
    }
}

/// Short names and the clang triples they stand for. These four cover what public headers of
/// hypervisors and kernels are usually consumed on: both pointer sizes, both x86 and Arm.
pub const DEFAULT_TARGETS: [(&str, &str); 4] = [
    ("x86_64", "x86_64-linux-gnu"),
    ("i386", "i386-linux-gnu"),
    ("aarch64", "aarch64-linux-gnu"),
    ("arm", "arm-linux-gnueabihf"),
];

/// A target to build for: the name the user gave and the triple clang gets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Target {
    pub name: String,
    pub triple: String,
}

impl Target {
    /// Resolves a short name through [`DEFAULT_TARGETS`]; anything with a dash is taken as a
    /// triple as it is (clang says later whether it knows it).
    pub fn resolve(name: &str) -> Result<Target> {
        let name = name.trim();
        if let Some((short, triple)) = DEFAULT_TARGETS.iter().find(|(short, _)| *short == name) {
            return Ok(Target { name: (*short).to_owned(), triple: (*triple).to_owned() });
        }
        if name.contains('-') && !name.starts_with('-') {
            return Ok(Target { name: name.to_owned(), triple: name.to_owned() });
        }
        Err(Error::Target(name.to_owned()))
    }
}

impl AbiConfig {
    /// The targets to build for; an empty list means the four defaults (a check of no target
    /// would find nothing and look like a clean result).
    pub fn resolved_targets(&self) -> Result<Vec<Target>> {
        if self.targets.is_empty() {
            return DEFAULT_TARGETS.iter().map(|(name, _)| Target::resolve(name)).collect();
        }
        self.targets.iter().map(|t| Target::resolve(t)).collect()
    }

    /// The macro sets to build under; an empty list means one build without extra macros.
    pub fn effective_macro_sets(&self) -> Vec<Vec<String>> {
        if self.macro_sets.is_empty() { vec![Vec::new()] } else { self.macro_sets.clone() }
    }

    pub fn header_matcher(&self) -> Result<globset::GlobSet> {
        let mut builder = globset::GlobSetBuilder::new();
        for glob in &self.headers {
            let parsed = globset::GlobBuilder::new(glob)
                .literal_separator(true)
                .build()
                .map_err(|source| Error::Glob { glob: glob.clone(), source })?;
            builder.add(parsed);
        }
        builder.build().map_err(|source| Error::Glob { glob: self.headers.join(", "), source })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_target_names_map_to_clang_triples() {
        let t = Target::resolve("i386").expect("known");
        assert_eq!(t.triple, "i386-linux-gnu");
        assert_eq!(Target::resolve("riscv64-linux-gnu").expect("triple").name, "riscv64-linux-gnu");
        assert!(Target::resolve("sparc").is_err());
        let none = AbiConfig { targets: Vec::new(), ..AbiConfig::default() };
        assert_eq!(
            none.resolved_targets().map(|t| t.len()).ok(),
            Some(4),
            "no target means the defaults"
        );
    }

    #[test]
    fn config_reads_from_toml_as_the_project_file_will_hold_it() {
        let cfg: AbiConfig = toml::from_str(
            "headers = [\"xen/include/public/**/*.h\"]\n\
             prelude = [\"#include <stdint.h>\"]\n\
             macro_sets = [[], [\"-D__XEN_TOOLS__\"]]\n",
        )
        .expect("valid");
        assert_eq!(cfg.targets.len(), 4, "targets default when absent");
        assert_eq!(cfg.effective_macro_sets().len(), 2);
        assert_eq!(cfg.clang, PathBuf::from("/usr/bin/clang"));
        assert!(
            toml::from_str::<AbiConfig>("header = []").is_err(),
            "a misspelt key is refused, not ignored"
        );
    }

    #[test]
    fn double_star_glob_matches_nested_public_headers_only() {
        let cfg =
            AbiConfig { headers: vec!["xen/include/public/**/*.h".into()], ..AbiConfig::default() };
        let m = cfg.header_matcher().expect("glob");
        assert!(m.is_match("xen/include/public/xen.h"));
        assert!(m.is_match("xen/include/public/arch-x86/xen.h"));
        assert!(!m.is_match("xen/include/xen/sched.h"));
        assert!(!m.is_match("xen/include/public/README"));
    }
}
