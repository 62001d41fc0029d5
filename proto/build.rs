//! Generates the gRPC code from `warden/v1/*.proto` with the vendored protoc.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    if std::env::var_os("PROTOC").is_none() {
        let protoc = protoc_bin_vendored::protoc_bin_path()?;
        // SAFETY: build scripts are single-threaded; nothing else reads the environment here.
        #[allow(unsafe_code)]
        unsafe {
            std::env::set_var("PROTOC", protoc);
        }
    }
    // The descriptors let tests enumerate every RPC instead of keeping a list by hand.
    let out_dir =
        std::path::PathBuf::from(std::env::var_os("OUT_DIR").ok_or("OUT_DIR is not set")?);
    tonic_prost_build::configure()
        .file_descriptor_set_path(out_dir.join("warden_descriptor.bin"))
        // Messages that carry secrets as input get a hand-written `Debug` (src/redact.rs).
        .skip_debug([
            ".warden.v1.Provider",
            ".warden.v1.McpServer",
            ".warden.v1.InitClusterRequest",
            ".warden.v1.PutWebhookRequest",
            ".warden.v1.PutTriggerRequest",
            ".warden.v1.ApplyWorkspaceRequest",
        ])
        .compile_protos(
            &["warden/v1/warden.proto", "warden/v1/internal.proto"],
            &["."],
        )?;
    Ok(())
}
