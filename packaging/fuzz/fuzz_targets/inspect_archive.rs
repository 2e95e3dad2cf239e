//! Fuzzes `archive::inspect_reader` on arbitrary bytes: it must return a result, never panic.
//! The first byte picks zip, tar or tar.gz; limits are small so bombs end quickly.
#![no_main]

use std::io::Cursor;

use libfuzzer_sys::fuzz_target;
use octopus_packaging::archive::{ArchiveLimits, inspect_reader};
use octopus_packaging::filename::ArchiveKind;

fuzz_target!(|data: &[u8]| {
    let Some((first, rest)) = data.split_first() else {
        return;
    };
    let kind = match first % 3 {
        0 => ArchiveKind::Zip,
        1 => ArchiveKind::Tar,
        _ => ArchiveKind::TarGz,
    };
    let limits = ArchiveLimits {
        max_entries: 1_000,
        max_total_size: 8 << 20,
        max_entry_size: 4 << 20,
        max_path_len: 1024,
    };
    if let Ok(summary) = inspect_reader(Cursor::new(rest), kind, &limits) {
        assert!(summary.entries.len() <= 1_000);
        assert!(summary.total_size <= 8 << 20);
    }
});
