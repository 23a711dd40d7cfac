//! Compiles `src/rpc/podfleet.proto` with protox (pure Rust: no system `protoc` needed).

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let fds = protox::compile(["src/rpc/podfleet.proto"], ["src/rpc"])?;
    tonic_prost_build::configure()
        .build_server(true)
        .build_client(true)
        .bytes(".podfleet.v1.StreamData.data")
        .bytes(".podfleet.v1.Stdin.data")
        .compile_fds(fds)?;
    println!("cargo:rerun-if-changed=src/rpc/podfleet.proto");
    Ok(())
}
