//! quire-import
