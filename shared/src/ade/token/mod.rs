//! PLACEHOLDER until the token worker's module lands (replaced at merge).

use serde::{Deserialize, Serialize};

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerToken {
    pub consumer_key: String,
    pub consumer_secret: String,
    pub access_token: String,
    pub access_secret: String,
    pub access_token_expiry: String,
    pub expiry_epoch: u64,
}

impl std::fmt::Debug for ServerToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerToken")
            .field("consumer_key", &self.consumer_key)
            .finish_non_exhaustive()
    }
}
