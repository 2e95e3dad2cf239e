//! Fuzzes `PackageFileName::parse`: it must never panic, and whatever it accepts must
//! survive a round trip through its canonical file name.
#![no_main]

use libfuzzer_sys::fuzz_target;
use octopus_packaging::filename::PackageFileName;

fuzz_target!(|data: &[u8]| {
    let Ok(name) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(parsed) = PackageFileName::parse(name) {
        let again =
            PackageFileName::parse(&parsed.to_string()).expect("a canonical file name must parse");
        assert_eq!(again, parsed);
    }
});
