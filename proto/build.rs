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
    tonic_prost_build::configure().compile_protos(
        &["warden/v1/warden.proto", "warden/v1/internal.proto"],
        &["."],
    )?;
    Ok(())
}
