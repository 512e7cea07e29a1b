//! The app (clients built once) and the route table.

use std::collections::HashMap;

use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, RequestExt, Response};
use percent_encoding::percent_decode_str;
use shared::aws::admin::{decode_cursor, AdminReads};
use shared::aws::items::Item;

use crate::auth::{Admin, Verifier};
use crate::config::Config;
use crate::http::{cors, ApiError};
use crate::{denials, devices, imports, settings, uploads};

pub struct App {
    pub config: Config,
    pub verifier: Verifier,
    pub dynamo: aws_sdk_dynamodb::Client,
    pub s3: aws_sdk_s3::Client,
    pub ses: aws_sdk_sesv2::Client,
    pub sns: aws_sdk_sns::Client,
}

impl App {
    pub fn reads(&self) -> AdminReads<'_> {
        AdminReads {
            client: &self.dynamo,
            devices: &self.config.tables.devices,
            users: &self.config.tables.users,
            imports: &self.config.tables.imports,
            denials: &self.config.denials_table,
        }
    }
}

/// What a route handler gets.
pub struct Call<'a> {
    pub app: &'a App,
    pub admin: Admin,
    pub query: HashMap<String, String>,
    pub body: &'a [u8],
}

impl Call<'_> {
    pub fn query(&self, key: &str) -> Option<&str> {
        self.query.get(key).map(String::as_str)
    }

    /// The `cursor` query parameter: where the previous page stopped.
    pub fn cursor(&self) -> Result<Option<Item>, ApiError> {
        match self.query("cursor").filter(|c| !c.is_empty()) {
            None => Ok(None),
            Some(c) => decode_cursor(c).map(Some).ok_or_else(|| {
                ApiError::bad("cursor", "use the cursor of the previous page as given")
            }),
        }
    }
}

pub async fn handle(app: &App, req: Request) -> Response<Body> {
    let origin = req
        .headers()
        .get("origin")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let response = if req.method() == Method::OPTIONS {
        // CORS preflight: answered without a token, as API Gateway does.
        crate::http::with_type(StatusCode::NO_CONTENT, Body::Empty, "text/plain")
    } else {
        match route(app, &req).await {
            Ok(r) => r,
            Err(e) => e.into_response(),
        }
    };
    cors(response, origin.as_deref(), &app.config.allowed_origins)
}

/// Path segments after `/v1/`, percent-decoded (serials may hold any character).
fn segments(path: &str) -> Option<Vec<String>> {
    let rest = &path[path.find("/v1/")? + 4..];
    rest.trim_end_matches('/')
        .split('/')
        .map(|s| {
            percent_decode_str(s)
                .decode_utf8()
                .ok()
                .map(|c| c.into_owned())
        })
        .collect()
}

async fn route(app: &App, req: &Request) -> Result<Response<Body>, ApiError> {
    let path = segments(req.uri().path())
        .ok_or_else(|| ApiError::NotFound("the admin API lives under /v1/".into()))?;
    let authorization = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok());
    let admin = app.verifier.verify(authorization)?;
    let query = req
        .query_string_parameters()
        .iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    let call = Call {
        app,
        admin,
        query,
        body: req.body(),
    };
    let p: Vec<&str> = path.iter().map(String::as_str).collect();
    let m = req.method();
    let get = m == Method::GET;
    let post = m == Method::POST;
    match p.as_slice() {
        ["settings"] if get => settings::get(&call).await,
        ["settings"] if m == Method::PUT => settings::put(&call).await,
        ["settings"] => Err(ApiError::MethodNotAllowed("GET, PUT")),
        ["settings", "history"] if get => settings::history(&call).await,
        ["devices"] if get => devices::list(&call).await,
        ["devices", serial] if get => devices::one(&call, serial).await,
        ["overview"] if get => devices::overview(&call).await,
        ["admission-denials"] if get => denials::list(&call).await,
        ["admission-denials", id, "approve"] if post => denials::approve(&call, id).await,
        ["imports"] if get => imports::list(&call).await,
        ["imports"] if post => uploads::commit(&call).await,
        ["imports", "preview"] if post => uploads::preview(&call).await,
        ["imports", id] if get => imports::one(&call, id).await,
        ["uploads"] if post => uploads::upload_url(&call).await,
        ["sample.csv"] if get => Ok(uploads::sample()),
        _ => Err(ApiError::NotFound(format!(
            "no route {} /v1/{}",
            m,
            p.join("/")
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::segments;

    /// Every route of the table above, as openapi.yaml must document it.
    const ROUTES: [(&str, &str); 15] = [
        ("get", "/v1/settings"),
        ("put", "/v1/settings"),
        ("get", "/v1/settings/history"),
        ("get", "/v1/devices"),
        ("get", "/v1/devices/{serial}"),
        ("get", "/v1/overview"),
        ("get", "/v1/admission-denials"),
        ("post", "/v1/admission-denials/{id}/approve"),
        ("get", "/v1/imports"),
        ("post", "/v1/imports"),
        ("post", "/v1/imports/preview"),
        ("get", "/v1/imports/{id}"),
        ("post", "/v1/uploads"),
        ("get", "/v1/sample.csv"),
        ("post", "/v1/admission"),
    ];

    #[test]
    fn every_route_is_in_the_openapi_file() {
        let spec = include_str!("../../../openapi.yaml");
        for (method, path) in ROUTES {
            let start = spec
                .find(&format!("\n  {path}:\n"))
                .unwrap_or_else(|| panic!("{path} is not in openapi.yaml"));
            // From the path's own line break, so its first method counts too.
            let rest = &spec[start + path.len() + 4..];
            let block = &rest[..rest[1..].find("\n  /").map_or(rest.len(), |i| i + 1)];
            assert!(
                block.contains(&format!("\n    {method}:")),
                "{method} {path} is not in openapi.yaml"
            );
        }
    }

    #[test]
    fn path_segments() {
        assert_eq!(
            segments("/v1/devices/AB%2F1%20x").unwrap(),
            ["devices", "AB/1 x"]
        );
        assert_eq!(segments("/prod/v1/settings/").unwrap(), ["settings"]);
        assert!(segments("/v2/settings").is_none());
        assert!(segments("/v1/devices/%FF").is_none());
    }
}
