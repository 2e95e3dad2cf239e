//! tf-sdk-derive (work in progress).
