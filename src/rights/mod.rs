//! Data-subject rights (GDPR): which relations hold personal data, the ACCESS / ERASURE /
//! SA_WITHDRAW procedures as parameterised model runs, and the request/result messages.

pub mod coverage;
pub mod declare;
pub mod engine;
pub mod message;

/// A project setting now (`crate::project::RightsConfig`); kept here for the rights callers.
pub use crate::project::RightsConfig;
pub use engine::{BatchMetrics, RightsEngine};
pub use message::{RightType, RightsRequest, RightsResult};
pub mod backoff;
pub mod client;
pub mod consumer;
pub mod metrics;
pub mod msk;
pub mod publish;
