//! Build script: with the `hedera` feature, generates the server side of the mirror node's
//! `com.hedera.mirror.api.proto.ConsensusService/subscribeTopic`, which hiero-sdk-proto compiles
//! as a client only. The service is described by hand (`tonic_build::manual`), so no `protoc`
//! is needed; its messages are hiero-sdk-proto's own. Without the feature it does nothing.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    #[cfg(feature = "hedera")]
    if std::env::var_os("CARGO_FEATURE_HEDERA").is_some() {
        mirror::generate();
    }
}

#[cfg(feature = "hedera")]
mod mirror {
    use tonic_build::manual::{Builder, Method, Service};

    /// Writes `com.hedera.mirror.api.proto.ConsensusService.rs` into `OUT_DIR`.
    pub(super) fn generate() {
        let subscribe = Method::builder()
            .name("subscribe_topic")
            .route_name("subscribeTopic")
            .input_type("hiero_sdk_proto::mirror::ConsensusTopicQuery")
            .output_type("hiero_sdk_proto::mirror::ConsensusTopicResponse")
            .codec_path("tonic::codec::ProstCodec")
            .server_streaming()
            .build();
        let service = Service::builder()
            .name("ConsensusService")
            .package("com.hedera.mirror.api.proto")
            .method(subscribe)
            .build();
        Builder::new()
            .build_client(false)
            .build_transport(false)
            .compile(&[service]);
    }
}
