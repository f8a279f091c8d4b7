//! Any text as a message body that may hold a diff: finding it, its diffstat, its patch-id and
//! its trailers must not panic, and the diff found must lie inside the text.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = std::str::from_utf8(data) {
        if let Some((start, end)) = quire_mail::diff::find_diff(s) {
            assert!(start <= end && end <= s.len());
            let d = &s[start..end];
            let _ = quire_mail::diff::diffstat(d);
            assert_eq!(quire_mail::diff::patch_id(d).len(), 40);
        }
        let _ = quire_mail::find_trailers(s);
        let _ = quire_mail::pull::find_pull(s);
    }
});
