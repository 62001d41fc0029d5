//! The agent runtime of a node: NodeSupervisor -> AgentActor -> TaskActor (ractor),
//! running journaled agent loops against model providers and MCP tools.
//!
//! The runtime reaches the cluster only through [`Host`], which the node implements.

pub mod agent_actor;
mod call_result;
pub mod clock;
pub mod credentials;
pub mod functions;
pub mod host;
pub mod metrics;
pub mod model;
pub mod node_supervisor;
pub mod pinning;
pub mod provider;
pub mod replay;
pub mod store;
pub mod task_actor;
pub mod tools;

pub use host::{Host, HostError, RuntimeOptions, SecretError};
pub use model::Model;
pub use node_supervisor::{NodeSupervisor, OwnedTask, SupervisorMsg};
pub use store::{Store, StoreError};
pub use tools::Tools;
