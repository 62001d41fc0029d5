//! Integration tests of the model client against the scripted model and against raw servers
//! that capture or misbehave, plus the scripted model binary. One module per concern.

/// Runs `async fn $name(kind: ProviderKind) -> anyhow::Result<()>` once per provider kind, as
/// `$name::openai` and `$name::anthropic`.
macro_rules! for_both_providers {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test]
            async fn openai() -> anyhow::Result<()> {
                super::$name(warden_providers::ProviderKind::OpenAi).await
            }

            #[tokio::test]
            async fn anthropic() -> anyhow::Result<()> {
                super::$name(warden_providers::ProviderKind::Anthropic).await
            }
        }
    )*};
}

mod auth;
mod binary;
mod common;
mod connect;
mod conversation;
mod double_validation;
mod egress;
mod example_script;
mod lifecycle;
mod malformed;
mod raw_server;
mod retries;
mod timeout;
mod wire_shape;
