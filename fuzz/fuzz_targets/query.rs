//! Any text as a search query: parsing must not panic, and an error must point inside the text.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        match quire_query::parse(s) {
            Ok(_) => {}
            Err(e) => {
                assert!(e.pos <= s.len(), "error position {} past the end ({})", e.pos, s.len());
                assert!(e.column >= 1 && e.column <= s.chars().count() + 1);
                assert!(!e.message.is_empty());
            }
        }
    }
});
