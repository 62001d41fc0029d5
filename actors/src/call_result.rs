//! A tool call's result as it is journaled: the server's output or error, scrubbed of the
//! server's credentials and cut to the node's limit, or the drift that stopped the call.

use warden_core::{Hash, Step};
use warden_mcp::CallOutput;

use crate::credentials::McpCredentials;

/// A tool call's result, to be journaled.
pub(crate) struct CallResult {
    pub(crate) output: String,
    pub(crate) is_error: bool,
    /// The server offered the tool with another definition (this hash), so the call
    /// was not made.
    pub(crate) drift: Option<Hash>,
}

impl CallResult {
    pub(crate) fn error(output: String) -> CallResult {
        CallResult {
            output,
            is_error: true,
            drift: None,
        }
    }
}

impl CallResult {
    /// The step journaling this result; with `start_next`, it also journals the turn's
    /// next call as started, to be run without a commit of its own.
    pub(crate) fn finished(self, call_id: String, start_next: bool) -> Step {
        if let Some(offered_hash) = self.drift {
            return Step::ToolDefinitionChanged {
                call_id,
                offered_hash,
                start_next,
            };
        }
        Step::ToolCallFinished {
            call_id,
            output: self.output,
            is_error: self.is_error,
            start_next,
        }
    }
}

impl CallResult {
    /// What the call to `call` (`server/tool`) returned, its output or its error (whose
    /// text may quote the server), with every credential of the server (`opened`)
    /// replaced and cut to `max_bytes`.
    pub(crate) fn of_call(
        result: Result<CallOutput, warden_mcp::Error>,
        call: &str,
        opened: &McpCredentials,
        max_bytes: usize,
    ) -> CallResult {
        let (text, is_error) = match result {
            Ok(output) => (output.text, output.is_error),
            Err(error) => (format!("tool call {call} failed: {error}"), true),
        };
        CallResult {
            output: truncate(opened.redact(text), max_bytes),
            is_error,
            drift: None,
        }
    }

    /// A failure whose text may quote the server, scrubbed and cut like a result.
    pub(crate) fn server_error(
        text: String,
        opened: &McpCredentials,
        max_bytes: usize,
    ) -> CallResult {
        CallResult::error(truncate(opened.redact(text), max_bytes))
    }
}

fn truncate(mut text: String, max_bytes: usize) -> String {
    if text.len() <= max_bytes {
        return text;
    }
    let mut cut = max_bytes;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    let dropped = text.len() - cut;
    text.truncate(cut);
    text.push_str(&format!("\n[output cut: {dropped} more bytes]"));
    text
}

#[cfg(test)]
mod tests {
    use warden_secrets::SecretString;

    use super::*;

    const SECRET: &str = "sk-server-credential-7f3a";

    fn opened() -> McpCredentials {
        McpCredentials {
            env: vec![("API_TOKEN".to_owned(), SecretString::new(SECRET.to_owned()))],
            bearer: None,
        }
    }

    #[test]
    fn a_result_is_scrubbed_and_cut() {
        let result = CallResult::of_call(
            Ok(CallOutput {
                text: format!("token {SECRET} ok"),
                is_error: true,
            }),
            "s/t",
            &opened(),
            14,
        );
        assert_eq!(result.output, "token <redacte\n[output cut: 5 more bytes]");
        assert!(result.is_error);
    }

    /// A server that puts its credential into a JSON-RPC error must not get it into the
    /// journal either: error text is scrubbed and cut like a result.
    #[test]
    fn an_mcp_error_is_scrubbed_like_a_result() {
        let error = warden_mcp::Error::Protocol {
            server: "acme/s".to_owned(),
            reason: format!("invalid token {SECRET}: {}", "x".repeat(100)),
        };
        let result = CallResult::of_call(Err(error), "s/t", &opened(), 120);
        assert!(!result.output.contains(SECRET), "{}", result.output);
        assert!(result.output.contains("<redacted>"), "{}", result.output);
        assert!(result.output.contains("[output cut:"), "{}", result.output);
        assert!(result.is_error);
    }
}
