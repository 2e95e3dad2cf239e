//! Understanding packages: file names, versions and ranges, streaming hashes, safe archive
//! inspection, and the step-package format (metadata, inputs schema, migrations).
//!
//! This crate is pure logic with no server or network code; the embedded server calls it.
//! The rules are documented for users in `docs/step-packages.md`.
//!
//! | Module | Job |
//! |---|---|
//! | [`filename`] | `<id>.<version>.<ext>` → [`filename::PackageFileName`], with reasons for rejections |
//! | [`version`] | SemVer 2.0 [`version::Version`] (patch optional), precedence ordering |
//! | [`range`] | [`range::VersionRange`] in NuGet (`[1.0,2.0)`) or npm (`^1.2`) notation |
//! | [`hashing`] | [`hashing::HashingWriter`] / [`hashing::HashingReader`]: SHA-1 + SHA-256 + size, with a size limit |
//! | [`archive`] | [`archive::inspect`]: streaming zip / tar / tar.gz checks (escapes, links, bombs); [`archive::extract`]: safe extraction after those checks |
//! | [`schema`] | [`schema::InputSchema`]: compact JSON Schema validator with path-named errors |
//! | [`step_package`] | [`step_package::load_step_package`], migrations, upgrade rules, allow-list |
//!
//! A typical upload: parse the file name, stream the body through
//! `HashingWriter::with_limit(temp_file, limit)`, [`archive::inspect`] the temporary file as
//! the parsed format (and [`step_package::load_step_package`] it for the step feed), then
//! publish it atomically by renaming.
//!
//! ```
//! use octopus_packaging::filename::PackageFileName;
//! use octopus_packaging::range::VersionRange;
//!
//! let name = PackageFileName::parse("acme-web.1.4.0.tar.gz").unwrap();
//! assert!(VersionRange::parse("^1.2").unwrap().contains(&name.version));
//! ```

pub mod archive;
pub mod filename;
pub mod hashing;
pub mod range;
pub mod schema;
pub mod step_package;
pub mod version;
