//! The admin API as the page calls it: signed in with a real token of the
//! emulator's Cognito user pool (USER_PASSWORD_AUTH, as the local page does),
//! and every answer checked against openapi.yaml.

use serde_json::{json, Value};

use crate::Stack;

pub fn var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is not set: run with `make integration`"))
}

pub struct Admin {
    pub st: Stack,
    pub base: String,
    pub token: String,
}

/// Cognito's InitiateAuth is an unsigned JSON call; the page makes the same one.
pub async fn sign_in(st: &Stack) -> String {
    let r = st
        .http
        .post(format!("{}/", st.endpoint))
        .header("x-amz-target", "AWSCognitoIdentityProviderService.InitiateAuth")
        .header("content-type", "application/x-amz-json-1.1")
        .body(
            json!({
                "AuthFlow": "USER_PASSWORD_AUTH",
                "ClientId": var("COGNITO_CLIENT_ID"),
                "AuthParameters": {"USERNAME": var("ADMIN_USERNAME"), "PASSWORD": var("ADMIN_PASSWORD")},
            })
            .to_string(),
        )
        .send()
        .await
        .expect("InitiateAuth");
    let v: Value = r.json().await.expect("auth JSON");
    v["AuthenticationResult"]["IdToken"]
        .as_str()
        .unwrap_or_else(|| panic!("no token: {v}"))
        .to_owned()
}

impl Admin {
    pub async fn new() -> Self {
        let st = Stack::from_env().await;
        let token = sign_in(&st).await;
        Self {
            base: format!("{}/v1", var("ADMIN_API_URL")),
            st,
            token,
        }
    }

    pub async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
        token: Option<&str>,
    ) -> (u16, Value) {
        let mut req = self
            .st
            .http
            .request(method.parse().unwrap(), format!("{}{path}", self.base));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req
                .header("content-type", "application/json")
                .body(b.to_string());
        }
        let r = req.send().await.expect("admin API");
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        // Every answer the admin API gives these tests is the one openapi.yaml documents.
        openapi_check::assert_documented(method, &format!("/v1{path}"), status, text.as_bytes());
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    pub async fn get(&self, path: &str) -> Value {
        let (status, v) = self.call("GET", path, None, Some(&self.token)).await;
        assert_eq!(status, 200, "GET {path}: {v}");
        v
    }

    pub async fn send(&self, method: &str, path: &str, body: Value) -> (u16, Value) {
        self.call(method, path, Some(body), Some(&self.token)).await
    }
}
