//! octopus-server (work in progress).
