//! The client's integration tests, one test binary for all of them. The JSON
//! fixtures stay in `tests/fixtures/`.

mod fixtures;
mod retry;
