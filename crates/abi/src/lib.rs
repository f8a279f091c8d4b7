//! quire-abi: tells reviewers when a series changes the binary layout of a public C header.
//!
//! For each touched header, before and after, for each target and macro set, a small
//! translation unit (prelude + `#include "header"`) is built with clang into an object with
//! DWARF; the layouts of every struct, union and enum the tree declares are read back with
//! gimli and compared. Entry point: [`check_revisions`]; trees already on disk:
//! [`check_trees`]. The parts are public for callers that need one step alone:
//! [`compile::compile`] builds, [`dwarf::read_layouts`] reads, [`diff::compare_layouts`]
//! compares.
//!
//! Invariants: the repository is only read (`git archive` into a temporary directory);
//! nothing from the headers is executed; a header that fails to compile is part of the
//! report, never an error.
pub mod check;
pub mod compile;
pub mod config;
pub mod diff;
pub mod dwarf;
pub mod error;
pub mod git;
pub mod layout;
pub mod report;

pub use check::{build_layouts, check_revisions, check_trees};
pub use config::{AbiConfig, DEFAULT_TARGETS, Target};
pub use diff::{BitField, LayoutChange};
pub use error::{Error, Result};
pub use layout::{Enumerator, MemberLayout, TypeKind, TypeLayout};
pub use report::{
    CompileFailure, ConfigurationReport, Report, Revision, Shape, TypeChange, TypeStatus,
};
