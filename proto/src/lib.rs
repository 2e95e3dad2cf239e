//! tf-proto (work in progress).
