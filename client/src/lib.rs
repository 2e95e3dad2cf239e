//! octopus-client (work in progress).
