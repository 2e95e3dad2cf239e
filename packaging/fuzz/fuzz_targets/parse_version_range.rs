//! Fuzzes `Version::parse` and `VersionRange::parse`: no panics, and a parsed version's
//! normalised text parses back to an equal version.
#![no_main]

use libfuzzer_sys::fuzz_target;
use octopus_packaging::range::VersionRange;
use octopus_packaging::version::Version;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(v) = Version::parse(text) {
        assert_eq!(
            Version::parse(&v.to_string()).expect("normalised text parses"),
            v
        );
        let _ = VersionRange::parse(text).map(|r| r.contains(&v));
    }
    if let Ok(r) = VersionRange::parse(text) {
        let _ = r.contains(&Version::new(1, 2, 3));
    }
});
