use aws_config::{BehaviorVersion, SdkConfig};

use crate::env::{parsed_or, EnvError};

/// JSON logs for CloudWatch, filtered by `RUST_LOG`; Lambda adds the time itself.
pub fn init_logging() {
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_target(false)
        .without_time()
        .init();
}

/// Loads the shared SDK configuration from the environment.
pub async fn sdk_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest()).load().await
}

/// An S3 client. `AWS_S3_FORCE_PATH_STYLE=true` selects path-style addressing,
/// which endpoints without per-bucket DNS names (emulators on 127.0.0.1) need.
pub fn s3(config: &SdkConfig) -> Result<aws_sdk_s3::Client, EnvError> {
    let path_style = parsed_or("AWS_S3_FORCE_PATH_STYLE", false)?;
    let s3_config = aws_sdk_s3::config::Builder::from(config)
        .force_path_style(path_style)
        .build();
    Ok(aws_sdk_s3::Client::from_conf(s3_config))
}
