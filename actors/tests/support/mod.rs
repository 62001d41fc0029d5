//! A test double of the node for the agent runtime: [`FakeHost`] applies proposals to
//! core's in-memory state with the real `apply()`, so every step the actors take is
//! judged exactly as on a cluster; the model and the tools are scripted doubles. Time
//! is tokio's, so tests run on a paused clock.

#![allow(dead_code)]

pub mod fake_host;
pub mod scripted;
pub mod workspace;

pub use fake_host::FakeHost;
pub use scripted::{FakeTools, ScriptedModel};
pub use workspace::{TASK, WS, place, setup};
