# Sourced by the project's scripts: installs the system packages the build needs when
# they are missing, and points cargo at one fixed target directory outside the clone so
# RocksDB's C++ (about 22 minutes from cold on 2 cores) is built once per machine.

set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/warden-target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

# librocksdb-sys runs bindgen, which needs libclang and clang's own headers.
if ! ls /usr/lib/llvm-*/lib/libclang.so* >/dev/null 2>&1 || ! ls /usr/lib/llvm-*/lib/clang/*/include/stdbool.h >/dev/null 2>&1; then
  echo "installing libclang-dev (needed to build RocksDB's bindings)" >&2
  sudo_cmd=""
  if [ "$(id -u)" != 0 ]; then sudo_cmd="sudo"; fi
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq libclang-dev >/dev/null
fi

# The etcd client of the side-by-side benchmark (bench/) compiles etcd's protos with protoc.
if ! command -v protoc >/dev/null 2>&1; then
  echo "installing protobuf-compiler (needed to build the etcd benchmark client)" >&2
  sudo_cmd=""
  if [ "$(id -u)" != 0 ]; then sudo_cmd="sudo"; fi
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq protobuf-compiler >/dev/null
fi

if ! command -v cargo-nextest >/dev/null 2>&1; then
  echo "installing cargo-nextest" >&2
  cargo install --locked cargo-nextest
fi

# RocksDB's static library, built once per machine outside the workspace (so the
# workspace's own settings cannot trigger a rebuild) and linked by every workspace build
# through .cargo/config.toml.
rocksdb_lib_dir="$(sed -n 's/^ROCKSDB_LIB_DIR = "\(.*\)"$/\1/p' "$repo_root/.cargo/config.toml")"
locked_version="$(grep -A1 '^name = "librocksdb-sys"$' "$repo_root/Cargo.lock" | sed -n 's/^version = "\(.*\)"$/\1/p')"
if [ "$(basename "$rocksdb_lib_dir")" != "librocksdb-sys-$locked_version" ]; then
  echo "error: .cargo/config.toml links $rocksdb_lib_dir but Cargo.lock has librocksdb-sys $locked_version" >&2
  exit 2
fi
if [ ! -f "$rocksdb_lib_dir/librocksdb.a" ]; then
  echo "building RocksDB $locked_version once for this machine (about 22 minutes on 2 cores)" >&2
  bootstrap="$(dirname "$rocksdb_lib_dir")/bootstrap-$locked_version"
  mkdir -p "$bootstrap/src"
  cat > "$bootstrap/Cargo.toml" <<TOML
[package]
name = "rocksdb-bootstrap"
version = "0.0.0"
edition = "2024"
publish = false

[dependencies]
librocksdb-sys = { version = "=$locked_version", default-features = false, features = ["lz4", "bindgen-runtime"] }

[profile.dev.package."*"]
opt-level = 2
debug = false
TOML
  : > "$bootstrap/src/lib.rs"
  (cd "$bootstrap" && env -u ROCKSDB_LIB_DIR -u ROCKSDB_STATIC CARGO_TARGET_DIR="$bootstrap/target" cargo build --quiet)
  built="$(ls -t "$bootstrap"/target/debug/build/librocksdb-sys-*/out/librocksdb.a | head -n 1)"
  mkdir -p "$rocksdb_lib_dir"
  cp "$built" "$rocksdb_lib_dir/librocksdb.a.tmp"
  mv "$rocksdb_lib_dir/librocksdb.a.tmp" "$rocksdb_lib_dir/librocksdb.a"
  rm -rf "$bootstrap/target"
fi

# The real MCP servers from PyPI that the tests call (mcp-server-time, mcp-server-git),
# in a virtualenv outside the clone.
bash "$repo_root/scripts/python-tools.sh"
