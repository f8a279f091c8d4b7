//! Any text as a subject line.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        let info = quire_mail::parse_subject(s);
        assert!(info.version >= 1);
    }
});
