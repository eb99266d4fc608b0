//! Compiles `proto/` with protox (no system protoc) into server and client stubs, and writes the
//! encoded file descriptor set that server reflection and the permission-table test read.

use std::{env, fs, path::PathBuf};

use prost::Message;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto_dir = PathBuf::from("proto");
    let mut files: Vec<PathBuf> = fs::read_dir(proto_dir.join("personae/v1"))?
        .map(|entry| entry.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    files.retain(|path| path.extension().is_some_and(|ext| ext == "proto"));
    files.sort();
    println!("cargo:rerun-if-changed=proto");

    let fds = protox::compile(&files, [&proto_dir])?;
    // tonic-prost-build ignores file_descriptor_set_path with compile_fds, so write it here.
    let out_dir = PathBuf::from(env::var("OUT_DIR")?);
    fs::write(out_dir.join("personae_descriptor.bin"), fds.encode_to_vec())?;

    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        // RPCs whose issue has not landed answer UNIMPLEMENTED through the default stubs.
        .generate_default_stubs(true)
        .compile_fds(fds)?;
    Ok(())
}
