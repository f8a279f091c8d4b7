//! quire-web
