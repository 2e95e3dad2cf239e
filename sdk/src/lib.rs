//! tf-sdk (work in progress).
