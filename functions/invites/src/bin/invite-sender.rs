//! Invite sender entry point: clients, the password key and the tuning are
//! read once per container, from the environment.

use invites::sender::{from_env, handle};
use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use shared::aws::{clients, secrets};
use shared::env::required;

#[tokio::main]
async fn main() -> Result<(), Error> {
    clients::init_logging();
    let sdk = clients::sdk_config().await;
    let secrets_client = aws_sdk_secretsmanager::Client::new(&sdk);
    let key = secrets::password_key(&secrets_client, &required("PASSWORD_KEY_SECRET")?).await?;
    let app = from_env(&sdk, &key)?;
    let app = &app;
    run(service_fn(move |event: LambdaEvent<_>| async move {
        Ok::<_, Error>(handle(app, event).await)
    }))
    .await
}
