//! The doubles of the model and the tools. `ScriptedModel` answers turns from a script
//! and can be held mid-call; `FakeTools` offers a listing the test can change and records
//! every call it receives.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use futures::future::BoxFuture;
use serde_json::{Map, Value, json};
use tokio::sync::Notify;
use warden_actors::Tools;
use warden_actors::model::Model;
use warden_mcp::{CallOutput, ServerSpec, ToolInfo};
use warden_providers::{Completion, CompletionRequest, Message, StopReason, ToolCall, Usage};

fn locked<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Answers turn N (the request's Nth assistant message is due) with the Nth scripted
/// completion, and every later turn with a final answer; asked again for a turn (an
/// actor restarted before it journaled the answer), it answers the same.
pub struct ScriptedModel {
    script: Vec<Completion>,
    calls: AtomicU32,
    held: AtomicBool,
    released: Notify,
    /// Signalled when a call arrives.
    pub called: Notify,
}

impl ScriptedModel {
    /// One turn per entry: the tool calls it asks for (`server__tool`, arguments).
    pub fn new(turns: &[&[(&str, Value)]]) -> ScriptedModel {
        let script = turns
            .iter()
            .enumerate()
            .map(|(turn, calls)| Completion {
                content: String::new(),
                tool_calls: calls
                    .iter()
                    .enumerate()
                    .map(|(index, (name, arguments))| ToolCall {
                        id: format!("call-{turn}-{index}"),
                        name: (*name).to_owned(),
                        arguments: arguments.clone(),
                    })
                    .collect(),
                usage: Usage {
                    input_tokens: 10,
                    output_tokens: 5,
                },
                stop: StopReason::ToolUse,
            })
            .collect::<Vec<_>>();
        ScriptedModel {
            script,
            calls: AtomicU32::new(0),
            held: AtomicBool::new(false),
            released: Notify::new(),
            called: Notify::new(),
        }
    }

    /// Calls from now on wait inside the model until [`ScriptedModel::release`].
    pub fn hold(&self) {
        self.held.store(true, Ordering::SeqCst);
    }

    pub fn release(&self) {
        self.held.store(false, Ordering::SeqCst);
        self.released.notify_waiters();
    }

    pub fn calls(&self) -> u32 {
        self.calls.load(Ordering::SeqCst)
    }
}

/// The host's handle on the shared script.
pub struct ModelHandle(pub std::sync::Arc<ScriptedModel>);

impl Model for ModelHandle {
    fn complete<'a>(
        &'a self,
        request: &'a CompletionRequest,
    ) -> BoxFuture<'a, Result<Completion, warden_providers::Error>> {
        Box::pin(async move {
            let model = &self.0;
            model.calls.fetch_add(1, Ordering::SeqCst);
            model.called.notify_waiters();
            loop {
                let released = model.released.notified();
                if !model.held.load(Ordering::SeqCst) {
                    break;
                }
                released.await;
            }
            let turn = request
                .messages
                .iter()
                .filter(|message| matches!(message, Message::Assistant { .. }))
                .count();
            Ok(model
                .script
                .get(turn)
                .cloned()
                .unwrap_or_else(|| Completion {
                    content: "done".to_owned(),
                    tool_calls: Vec::new(),
                    usage: Usage {
                        input_tokens: 10,
                        output_tokens: 5,
                    },
                    stop: StopReason::EndTurn,
                }))
        })
    }
}

/// A tool as the double's server lists it.
pub fn tool_info(name: &str, read_only: bool, description: &str) -> ToolInfo {
    ToolInfo {
        name: name.to_owned(),
        description: description.to_owned(),
        input_schema: json!({"type": "object"}),
        read_only,
        idempotent: read_only,
        destructive: !read_only,
        listed: json!({"name": name, "description": description}),
    }
}

/// The server `tools`: `get` (read-only) and `append`.
pub struct FakeTools {
    offered: Mutex<Vec<ToolInfo>>,
    calls: Mutex<Vec<(String, Map<String, Value>)>>,
}

impl Default for FakeTools {
    fn default() -> FakeTools {
        FakeTools {
            offered: Mutex::new(vec![
                tool_info("get", true, "reads a key"),
                tool_info("append", false, "appends an entry"),
            ]),
            calls: Mutex::new(Vec::new()),
        }
    }
}

impl FakeTools {
    pub fn offered(&self) -> Vec<ToolInfo> {
        locked(&self.offered).clone()
    }

    /// From now on the server lists `tool` with another description.
    pub fn redefine(&self, tool: &str, description: &str) {
        for offered in locked(&self.offered).iter_mut() {
            if offered.name == tool {
                *offered = tool_info(tool, offered.read_only, description);
            }
        }
    }

    /// The calls the server received: tool and arguments.
    pub fn calls(&self) -> Vec<(String, Map<String, Value>)> {
        locked(&self.calls).clone()
    }
}

impl Tools for FakeTools {
    fn list_tools<'a>(
        &'a self,
        _key: &'a str,
        _spec: &'a ServerSpec,
    ) -> BoxFuture<'a, Result<Vec<ToolInfo>, warden_mcp::Error>> {
        Box::pin(async move { Ok(self.offered()) })
    }

    fn call<'a>(
        &'a self,
        _key: &'a str,
        _spec: &'a ServerSpec,
        tool: &'a str,
        arguments: Map<String, Value>,
        _timeout: Duration,
    ) -> BoxFuture<'a, Result<CallOutput, warden_mcp::Error>> {
        Box::pin(async move {
            locked(&self.calls).push((tool.to_owned(), arguments));
            Ok(CallOutput {
                text: format!("{tool} ok"),
                is_error: false,
            })
        })
    }
}
