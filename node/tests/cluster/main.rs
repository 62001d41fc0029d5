//! The node's cluster tests: real `warden` processes on loopback (port 0, temporary data
//! directories), driven through `warden-client`, one module per concern. One test binary
//! for all of them, so the workspace build links it once; nextest still runs every test
//! in its own process (`.config/nextest.toml` runs them one at a time).

mod common;

mod actor_restarts;
mod agent_failover;
mod agent_fencing;
mod agent_pause;
mod audit_anchor;
mod audit_chain;
mod auth;
mod backup;
mod bad_input;
mod catalog;
mod clock_skew;
mod config_files;
mod console;
mod console_browser;
mod deletes;
mod dev_cluster;
mod egress;
mod failover;
mod governance;
mod health;
mod help_examples;
mod kill_switch;
mod logging;
mod membership_checks;
mod metrics;
mod network;
mod no_lost_writes;
mod node_identity;
mod provider_keys;
mod readme;
mod reflection;
mod refusals;
mod schedules;
mod secrets;
mod security_doc;
mod snapshot_catch_up;
mod stream_access;
mod task_lifecycle;
mod tls_startup;
mod traces;
mod triggers;
mod upgrade;
mod wardenctl;
mod watch;
mod webhooks;
mod workers;
mod workspace_isolation;
