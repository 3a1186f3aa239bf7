#![doc = include_str!("../README.md")]

pub mod admin;
pub mod db;
pub mod enforce;
mod governor;
pub mod headers;
pub mod limits;
pub mod model;
mod ops;
pub mod period;
mod scripts;
pub mod secret;

pub use admin::AdminError;
pub use governor::{Caller, Governance, GovernanceConfig, Plan, Refusal, Ticket};
pub use headers::RateHeaders;
pub use model::{Budget, Key, Limits, Role, Team, User};
pub use period::{Clock, Period};
