//! Writes a series back out as an mbox that `git am` applies, with the collected trailers.
