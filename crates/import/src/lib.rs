//! quire-import: reads list archives (mbox, maildir, public-inbox git, stdin) and feeds the store.

pub mod mbox;
