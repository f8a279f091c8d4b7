//! quire-web: the pages maintainers live in.

pub mod age;
pub mod diff;
pub mod diffstat;
pub mod interdiff;
pub mod quote;
pub mod url;
pub mod views;
pub mod build;
pub mod error;
