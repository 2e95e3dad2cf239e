//! octopus-packaging (work in progress).
