//! Chaos testing for Warden: real `warden` processes, each on its own loopback address,
//! with every link between them (and from clients) passing through a TCP fault proxy the
//! harness owns. A run is a seed plus a fault schedule; clients record every operation in
//! a history, and one checker per promise judges the history and the final state of every
//! node.

pub mod agent_history;
pub mod agents;
pub mod checkers;
pub mod cluster;
pub mod faults;
pub mod history;
pub mod proxy;
pub mod resume;
pub mod run;
pub mod summary;
pub mod tmpfs;
pub mod workload;
