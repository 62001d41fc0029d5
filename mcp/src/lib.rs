//! MCP tool sessions.
