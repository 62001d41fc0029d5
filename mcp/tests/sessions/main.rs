//! MCP sessions against real servers (the bundled ledger over stdio and HTTP, Python MCP
//! servers from PyPI, test doubles): transports, credentials, egress, timeouts, and the
//! supervisor's lifecycle, one module per concern. One test binary for all of them, so the
//! workspace build links it once.

mod common;

mod call_timeout;
mod credentials;
mod egress;
mod ledger_http;
mod ledger_stdio;
mod python_servers;
mod session_lifecycle;
mod sessions_concurrency;
mod sessions_idle;
mod sessions_replace;
mod sessions_restart;
