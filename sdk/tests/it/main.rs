//! tf-sdk's integration tests, one binary: the codecs, models, and the plan
//! pipeline through the gRPC service.

mod codec;
mod model;
mod plan;
mod plan_nested;
