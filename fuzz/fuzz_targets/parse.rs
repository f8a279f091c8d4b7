//! Any bytes as a mail: parse must not panic, must give a Message-ID, and assembling the one
//! message (and writing it for git am) must not panic either.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let m = quire_mail::parse(data);
    assert!(!m.message_id.is_empty());
    let meta = quire_series::meta_from_parsed(&m);
    let a = quire_series::assemble(std::slice::from_ref(&meta));
    for s in &a.series {
        let _ = quire_series::collect_trailers(s, std::slice::from_ref(&meta), &[]);
    }
    let p = quire_series::am::AmPatch { message: &m, number: 1, total: 1, version: 1, trailers: &[] };
    let _ = quire_series::am::render_mbox(&[p], &Default::default());
});
