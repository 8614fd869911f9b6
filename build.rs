//! Generates the message types and service traits of the gRPC API from `proto/`. The .proto files are compiled
//! by protox (pure Rust) so a build needs no `protoc` on the machine.

use std::path::{Path, PathBuf};

const PROTO_ROOT: &str = "proto";

fn proto_files(dir: &Path, found: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            proto_files(&path, found)?;
        } else if path.extension().is_some_and(|e| e == "proto") {
            found.push(path);
        }
    }
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed={PROTO_ROOT}");
    let mut files = Vec::new();
    proto_files(Path::new(PROTO_ROOT), &mut files)?;
    files.sort();
    // Names as the descriptor set knows them: relative to the proto root.
    let names: Vec<String> = files
        .iter()
        .map(|f| {
            f.strip_prefix(PROTO_ROOT)
                .unwrap_or(f)
                .to_string_lossy()
                .trim_start_matches('/')
                .to_owned()
        })
        .collect();

    let mut compiler = protox::Compiler::new([PROTO_ROOT])?;
    compiler.include_imports(true).include_source_info(true);
    compiler.open_files(&names)?;
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    let descriptors = out_dir.join("phoneverify_protos.bin");
    let encoded = compiler.encode_file_descriptor_set();
    // connectrpc-build watches this file (rerun-if-changed), and cargo compares its mtime with the start of this
    // script: rewriting the same bytes would make every cargo command run this script and rebuild the crate.
    if std::fs::read(&descriptors).ok().as_deref() != Some(encoded.as_slice()) {
        std::fs::write(&descriptors, &encoded)?;
    }

    connectrpc_build::Config::new()
        .files(&names)
        .descriptor_set(&descriptors)
        .emit_descriptor_set("descriptors.bin")
        .include_file("_connectrpc.rs")
        .compile()?;
    Ok(())
}
