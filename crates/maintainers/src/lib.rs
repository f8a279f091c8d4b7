//! quire-maintainers: MAINTAINERS files as Linux, Xen and QEMU write them, and the approvals a
//! series needs under them. Pure: the caller reads the file from the tree (the worker, at the
//! commit a series applies on) and the trailers from the store.
//!
//! - [`parse`] reads a file into [`Maintainers`] (sections with `M:` maintainers, `R:`
//!   reviewers, `L:` lists, `S:` status, `F:`/`X:` patterns, `N:` and `K:` expressions);
//! - [`map_series`] finds the sections concerning each file each patch of a series touches
//!   ([`SeriesMaintainers`], what the store keeps per series);
//! - [`evaluate`] says, under a project's [`Rule`], which files are approved, by whom, and whose
//!   approval is still awaited ([`Approvals`]).
//!
//! The matching follows `scripts/get_maintainer.pl` (module docs of [`pattern`]); nesting
//! follows Xen's rule that the most specific maintainer's Ack is necessary and sufficient
//! ([`approvals`]).

pub mod approvals;
pub mod file;
pub mod pattern;
pub mod person;
pub mod series;

pub use approvals::{
    Approvals, Approver, FileApproval, FileState, Given, Member, Rule, RuleKind, SectionView,
    evaluate,
};
pub use file::{Maintainers, Section, parse};
pub use person::{Identities, Person, Via, name_key, same_person};
pub use series::{
    FileSections, MatchKind, PatchInput, PatchSections, SectionInfo, SectionMatch,
    SeriesMaintainers, map_series,
};
