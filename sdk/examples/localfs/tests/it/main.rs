//! The example provider's tests, one binary: the plugin handshake, and the whole
//! resource lifecycle through the real `terraform` binary.

mod handshake;
mod manifest;
mod terraform;
