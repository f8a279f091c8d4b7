//! quire-abi
