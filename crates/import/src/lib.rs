//! quire-import: reads list archives (mbox, maildir, public-inbox git, stdin) and feeds the store.

pub mod maildir;
pub mod mbox;
pub mod public_inbox;
pub mod stdin;
