//! The password key, read once at start from Secrets Manager.

use crate::password::PasswordKey;
use crate::port_error::PortError;

pub async fn password_key(
    client: &aws_sdk_secretsmanager::Client,
    secret_id: &str,
) -> Result<PasswordKey, PortError> {
    let out = client
        .get_secret_value()
        .secret_id(secret_id)
        .send()
        .await
        .map_err(|e| {
            PortError::new(
                "read password key",
                aws_sdk_secretsmanager::error::DisplayErrorContext(e),
            )
        })?;
    let bytes = match (out.secret_string, out.secret_binary) {
        (Some(s), _) => s.into_bytes(),
        (None, Some(b)) => b.into_inner(),
        (None, None) => return Err(PortError::new("read password key", "the secret is empty")),
    };
    PasswordKey::new(bytes).map_err(|e| PortError::new("read password key", e))
}
