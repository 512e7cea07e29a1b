//! Admission Lambda entry point: clients, the password key and a warm
//! connection are ready before the first request arrives.

use admission::config::Config;
use admission::handler::{handle, App};
use lambda_http::{service_fn, Error};
use shared::admission::AdmissionStore;
use shared::aws::admission::DynamoAdmission;
use shared::aws::{clients, secrets};

#[tokio::main]
async fn main() -> Result<(), Error> {
    clients::init_logging();
    let config = Config::from_env()?;
    let sdk = clients::sdk_config().await;
    let secrets_client = aws_sdk_secretsmanager::Client::new(&sdk);
    let store = DynamoAdmission::new(aws_sdk_dynamodb::Client::new(&sdk), config.tables);
    // The warm-up is the request the allow path makes (a serial no device has),
    // so its connection, TLS session and signing are ready; it runs beside the
    // secret read, and failing it only costs the first request that time.
    let (key, warm) = tokio::join!(
        secrets::password_key(&secrets_client, &config.password_key_secret),
        store.lookup("\u{1}warm-up")
    );
    if let Err(e) = warm {
        tracing::warn!(error = %e, "warm-up read failed");
    }
    let app = App::new(store, key?);
    let app = &app;
    lambda_http::run(service_fn(move |req| async move {
        Ok::<_, Error>(handle(app, req).await)
    }))
    .await
}
