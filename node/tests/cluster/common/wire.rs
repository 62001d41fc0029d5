//! The public API as the compiled descriptors describe it, and raw calls over it: the
//! walks in `auth.rs` and `workspace_isolation.rs` reach every `warden.v1` method this
//! way, so a new RPC is covered without anyone listing it.

use std::collections::HashMap;
use std::time::Duration;

use prost::bytes::{Buf, BufMut};
use prost::encoding::{WireType, encode_key, encode_varint};
use prost_types::field_descriptor_proto::{Label, Type};
use prost_types::{DescriptorProto, FieldDescriptorProto};
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::transport::Channel;
use tonic::{Code, Status};

/// One public method as the descriptors name it.
pub struct Method {
    /// `/warden.v1.Service/Method`
    pub path: String,
    /// The request message's full name, `.warden.v1.GetTaskRequest`.
    pub input: String,
    pub client_streaming: bool,
    pub server_streaming: bool,
}

/// Every method of every `warden.v1` service, and every message of the package by full
/// name.
pub struct Api {
    pub methods: Vec<Method>,
    pub messages: HashMap<String, DescriptorProto>,
}

impl Api {
    pub fn load() -> Self {
        let set = warden_proto::file_descriptor_set().expect("decode the file descriptor set");
        let mut methods = Vec::new();
        let mut messages = HashMap::new();
        for file in set.file.iter().filter(|file| file.package() == "warden.v1") {
            for service in &file.service {
                for method in &service.method {
                    methods.push(Method {
                        path: format!("/warden.v1.{}/{}", service.name(), method.name()),
                        input: method.input_type().to_owned(),
                        client_streaming: method.client_streaming(),
                        server_streaming: method.server_streaming(),
                    });
                }
            }
            for message in &file.message_type {
                messages.insert(format!(".warden.v1.{}", message.name()), message.clone());
            }
        }
        Self { methods, messages }
    }

    /// Whether `method`'s request names a workspace, directly or in a message it holds
    /// (`PutProvider`'s provider, `CreateAgent`'s agent).
    pub fn is_workspace_scoped(&self, method: &Method) -> bool {
        self.names_workspace(&method.input, 0)
    }

    fn names_workspace(&self, message: &str, depth: usize) -> bool {
        let Some(descriptor) = self.messages.get(message) else {
            return false;
        };
        depth < 3
            && descriptor.field.iter().any(|field| {
                (field.name() == "workspace" && field.r#type() == Type::String)
                    || (field.r#type() == Type::Message
                        && self.names_workspace(field.type_name(), depth + 1))
            })
    }

    /// Encodes a request of `message` that sets `workspace` to `workspace` wherever it
    /// occurs and every other string field to `value(field name)`; numbers, booleans
    /// and enums keep their defaults, and a oneof gets its first string or message member.
    pub fn request(
        &self,
        message: &str,
        workspace: &str,
        value: &dyn Fn(&str) -> String,
    ) -> Vec<u8> {
        let mut out = Vec::new();
        let Some(descriptor) = self.messages.get(message) else {
            return out;
        };
        let mut oneofs_set = Vec::new();
        for field in &descriptor.field {
            if let Some(oneof) = field.oneof_index.filter(|_| !field.proto3_optional()) {
                let encodable = matches!(field.r#type(), Type::String | Type::Message);
                if !encodable || oneofs_set.contains(&oneof) {
                    continue;
                }
                oneofs_set.push(oneof);
            }
            self.encode_field(field, workspace, value, &mut out);
        }
        out
    }

    fn encode_field(
        &self,
        field: &FieldDescriptorProto,
        workspace: &str,
        value: &dyn Fn(&str) -> String,
        out: &mut Vec<u8>,
    ) {
        let number = u32::try_from(field.number()).expect("a positive field number");
        match field.r#type() {
            Type::String => {
                let text = if field.name() == "workspace" {
                    workspace.to_owned()
                } else {
                    value(field.name())
                };
                prost::encoding::string::encode(number, &text, out);
            }
            // Numbers a request must carry to get past its checks at the edge.
            Type::Uint64 if field.name() == "question_seq" => {
                prost::encoding::uint64::encode(number, &1, out);
            }
            Type::Message
                if field.label() != Label::Repeated
                    && self.names_workspace(field.type_name(), 1) =>
            {
                let nested = self.request(field.type_name(), workspace, value);
                encode_key(number, WireType::LengthDelimited, out);
                encode_varint(nested.len() as u64, out);
                out.put_slice(&nested);
            }
            _ => {}
        }
    }
}

/// Sends the bytes it is given as the request and discards what it decodes.
#[derive(Clone, Copy, Default)]
pub struct RawCodec;

impl Codec for RawCodec {
    type Encode = Vec<u8>;
    type Decode = ();
    type Encoder = RawCodec;
    type Decoder = RawCodec;

    fn encoder(&mut self) -> RawCodec {
        RawCodec
    }

    fn decoder(&mut self) -> RawCodec {
        RawCodec
    }
}

impl Encoder for RawCodec {
    type Item = Vec<u8>;
    type Error = Status;

    fn encode(&mut self, item: Vec<u8>, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for RawCodec {
    type Item = ();
    type Error = Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<()>, Status> {
        src.advance(src.remaining());
        Ok(Some(()))
    }
}

/// Calls `method` with `body` as its request and `authorization` as the header (none
/// when `None`). A server stream's first item decides: an error is the answer, an item,
/// the end or a second of silence count as OK.
pub async fn call(
    channel: &Channel,
    method: &Method,
    body: Vec<u8>,
    authorization: Option<&str>,
) -> Result<(), Status> {
    let path = method.path.parse().expect("a method path");
    let mut grpc = tonic::client::Grpc::new(channel.clone());
    let answer = async {
        grpc.ready()
            .await
            .map_err(|error| Status::unknown(format!("channel not ready: {error}")))?;
        let mut request = tonic::Request::new(body);
        if let Some(value) = authorization {
            let value = value.parse().expect("an ASCII header value");
            request.metadata_mut().insert("authorization", value);
        }
        match (method.client_streaming, method.server_streaming) {
            (false, false) => grpc.unary(request, path, RawCodec).await.map(drop),
            (false, true) => {
                let mut stream = grpc
                    .server_streaming(request, path, RawCodec)
                    .await?
                    .into_inner();
                match tokio::time::timeout(Duration::from_secs(1), stream.message()).await {
                    Ok(first) => first.map(drop),
                    Err(_) => Ok(()),
                }
            }
            (true, _) => {
                let request = request.map(|body| futures::stream::once(async { body }));
                if method.server_streaming {
                    grpc.streaming(request, path, RawCodec).await.map(drop)
                } else {
                    grpc.client_streaming(request, path, RawCodec)
                        .await
                        .map(drop)
                }
            }
        }
    };
    match tokio::time::timeout(Duration::from_secs(10), answer).await {
        Ok(answer) => answer,
        Err(_) => panic!("{} did not answer within 10s", method.path),
    }
}

/// The code of an answer, OK for success.
pub fn code_of(answer: &Result<(), Status>) -> Code {
    match answer {
        Ok(()) => Code::Ok,
        Err(status) => status.code(),
    }
}

/// A plausible value for every string field a request has besides its workspace, so
/// that a request fails for its workspace and not for being malformed.
pub fn field_value(task_id: &str, method: &str, field: &str) -> String {
    let value = match field {
        // A pause names an agent or a tool, not both.
        "server" | "tool" if method.ends_with("/SetPause") => "",
        "task_id" => task_id,
        "agent" | "name" => super::AGENT,
        "provider" => "model",
        "kind" => "openai",
        "base_url" => "http://127.0.0.1:9/v1",
        "model" => "model",
        "catalog" => "true",
        "command" | "url" | "api_key" | "api_key_env" | "secret_bearer" | "page_token" => "",
        "server" => "ledger",
        "tool" => "append",
        "arguments_json" => "{}",
        "rules_json" => r#"{"rules": []}"#,
        "principal" | "submitter" => "user/alice",
        "roles" => "viewer",
        "arguments_hash" => return "0".repeat(64),
        "events" => "task.failed",
        "secret" => "a-webhook-secret-0123",
        "before" => "",
        "cron" => "0 9 * * *",
        "timezone" => "UTC",
        "catch_up" => "skip",
        _ => "trespass",
    };
    value.to_owned()
}
