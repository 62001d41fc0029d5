//! What the scripted model needs from a request, in either wire format: the model asked for,
//! the turn (assistant messages so far), the characters of content, and a check that every
//! tool result answers an earlier tool call.

use std::collections::BTreeSet;

/// A request reduced to what chooses and sizes the reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Transcript {
    pub model: String,
    pub max_tokens: Option<u64>,
    /// Assistant messages already in the conversation.
    pub turn: usize,
    /// Characters of the system prompt, texts and tool results.
    pub content_chars: usize,
    /// The conversation's first user text: the task's input.
    pub first_user_text: String,
    /// The content of the conversation's last tool result (empty when it has none).
    pub last_tool_result: String,
}

impl Transcript {
    /// Deterministic, so that tests can predict usage: a quarter of the characters.
    pub fn input_tokens(&self) -> u64 {
        u64::try_from(self.content_chars / 4).unwrap_or(u64::MAX)
    }
}

/// Fed the conversation in order by a wire module; rejects what a real provider would.
#[derive(Debug, Default)]
pub(crate) struct TranscriptBuilder {
    turn: usize,
    content_chars: usize,
    first_user_text: Option<String>,
    last_tool_result: String,
    known_calls: BTreeSet<String>,
    unanswered_calls: BTreeSet<String>,
}

impl TranscriptBuilder {
    pub fn system(&mut self, text: &str) {
        self.content_chars += text.chars().count();
    }

    /// A user's text.
    pub fn text(&mut self, text: &str) {
        self.content_chars += text.chars().count();
        if self.first_user_text.is_none() {
            self.first_user_text = Some(text.to_owned());
        }
    }

    pub fn assistant<'a>(
        &mut self,
        text: &str,
        call_ids: impl IntoIterator<Item = &'a str>,
    ) -> Result<(), String> {
        self.check_all_answered()?;
        self.turn += 1;
        self.content_chars += text.chars().count();
        for call_id in call_ids {
            if call_id.is_empty() {
                return Err("a tool call has an empty id".to_owned());
            }
            if !self.known_calls.insert(call_id.to_owned()) {
                return Err(format!("tool call id {call_id} is used twice"));
            }
            self.unanswered_calls.insert(call_id.to_owned());
        }
        Ok(())
    }

    pub fn tool_result(&mut self, call_id: &str, content: &str) -> Result<(), String> {
        if !self.known_calls.contains(call_id) {
            return Err(format!(
                "tool result answers unknown tool call id {call_id}"
            ));
        }
        if !self.unanswered_calls.remove(call_id) {
            return Err(format!("tool call {call_id} is answered twice"));
        }
        self.content_chars += content.chars().count();
        content.clone_into(&mut self.last_tool_result);
        Ok(())
    }

    pub fn finish(self, model: String, max_tokens: Option<u64>) -> Result<Transcript, String> {
        self.check_all_answered()?;
        Ok(Transcript {
            model,
            max_tokens,
            turn: self.turn,
            content_chars: self.content_chars,
            first_user_text: self.first_user_text.unwrap_or_default(),
            last_tool_result: self.last_tool_result,
        })
    }

    fn check_all_answered(&self) -> Result<(), String> {
        match self.unanswered_calls.first() {
            Some(call_id) => Err(format!("tool call {call_id} has no tool result")),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_turns_and_characters() -> Result<(), String> {
        let mut builder = TranscriptBuilder::default();
        builder.system("sys");
        builder.text("hello");
        builder.assistant("", ["call_0_0", "call_0_1"])?;
        builder.tool_result("call_0_0", "ok")?;
        builder.tool_result("call_0_1", "fine")?;
        builder.assistant("thinking", [])?;
        builder.text("more");
        let transcript = builder.finish("m".to_owned(), Some(10))?;
        assert_eq!(transcript.turn, 2);
        assert_eq!(transcript.content_chars, 3 + 5 + 2 + 4 + 8 + 4);
        assert_eq!(transcript.input_tokens(), 26 / 4);
        assert_eq!(transcript.first_user_text, "hello");
        Ok(())
    }

    #[test]
    fn rejects_results_for_unknown_or_answered_calls() -> Result<(), String> {
        let mut builder = TranscriptBuilder::default();
        assert!(builder.tool_result("call_0_0", "x").is_err());
        builder.assistant("", ["call_0_0"])?;
        builder.tool_result("call_0_0", "x")?;
        assert!(builder.tool_result("call_0_0", "x").is_err());
        Ok(())
    }

    #[test]
    fn rejects_unanswered_calls_and_reused_ids() -> Result<(), String> {
        let mut unanswered = TranscriptBuilder::default();
        unanswered.assistant("", ["a"])?;
        assert!(unanswered.assistant("", []).is_err());
        let mut at_end = TranscriptBuilder::default();
        at_end.assistant("", ["a"])?;
        assert!(at_end.finish("m".to_owned(), None).is_err());
        let mut reused = TranscriptBuilder::default();
        assert!(reused.assistant("", ["a", "a"]).is_err());
        Ok(())
    }
}
