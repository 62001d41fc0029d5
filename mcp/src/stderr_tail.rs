//! Keeps the last lines a stdio server wrote to its stderr, so they can explain a failure
//! without ever reaching our own stderr.

use std::{
    collections::VecDeque,
    sync::{Arc, Mutex},
};

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};

const MAX_LINES: usize = 20;
const MAX_LINE_CHARS: usize = 400;

/// A shared ring of the last [`MAX_LINES`] stderr lines, each cut to [`MAX_LINE_CHARS`].
#[derive(Debug, Clone, Default)]
pub(crate) struct StderrTail {
    lines: Arc<Mutex<VecDeque<String>>>,
}

impl StderrTail {
    /// Reads `stderr` to its end. The pipe must be drained continuously, or a chatty server
    /// blocks once the pipe buffer is full.
    pub(crate) async fn collect(self, stderr: impl AsyncRead + Unpin) {
        let mut lines = BufReader::new(stderr).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            self.push(line);
        }
    }

    fn push(&self, line: String) {
        let line = match line.char_indices().nth(MAX_LINE_CHARS) {
            Some((cut, _)) => format!("{}...", &line[..cut]),
            None => line,
        };
        let mut lines = self
            .lines
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if lines.len() == MAX_LINES {
            lines.pop_front();
        }
        lines.push_back(line);
    }

    pub(crate) fn snapshot(&self) -> Vec<String> {
        let lines = self
            .lines
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        lines.iter().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn keeps_only_the_last_lines_cut_to_length() {
        let tail = StderrTail::default();
        let long = "x".repeat(MAX_LINE_CHARS + 10);
        let mut input = String::new();
        for n in 0..MAX_LINES + 5 {
            input.push_str(&format!("line {n}\n"));
        }
        input.push_str(&long);
        tail.clone().collect(input.as_bytes()).await;
        let lines = tail.snapshot();
        assert_eq!(lines.len(), MAX_LINES);
        assert_eq!(lines[0], "line 6");
        assert_eq!(lines[MAX_LINES - 1].len(), MAX_LINE_CHARS + 3);
    }
}
