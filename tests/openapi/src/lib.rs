//! Checks a response against `openapi.yaml`: the route, method and status
//! must be documented, and a JSON body must match the documented schema.
//! Stricter than JSON Schema in one way, on purpose: an object may carry only
//! the properties its schema names (unless it allows more), so the document
//! cannot fall behind the code in either direction.
//!
//! The OpenAPI 3.0 subset the document uses: `$ref` to components, `type`,
//! `nullable`, `enum`, `required`, `properties`, `additionalProperties`,
//! `items`, `allOf`, `oneOf`, `anyOf`, `minimum`, `maximum`, `minLength`,
//! `maxLength`. Anything else (formats, examples) is not checked.

use std::collections::BTreeSet;
use std::sync::OnceLock;

use serde_json::{Map, Value};

const SPEC: &str = include_str!("../../../openapi.yaml");

pub struct Spec {
    root: Value,
}

/// One documented operation (see [`Spec::operations`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operation {
    pub method: String,
    pub template: String,
    pub secured: bool,
}

impl Operation {
    /// The template with every `{parameter}` replaced by `value`.
    pub fn path_with(&self, value: &str) -> String {
        self.template
            .split('/')
            .map(|part| match part.starts_with('{') && part.ends_with('}') {
                true => value,
                false => part,
            })
            .collect::<Vec<_>>()
            .join("/")
    }
}

/// The document, parsed once per test binary.
pub fn spec() -> &'static Spec {
    static SPEC_DOC: OnceLock<Spec> = OnceLock::new();
    SPEC_DOC.get_or_init(|| Spec::parse(SPEC).expect("openapi.yaml parses"))
}

/// Asserts that a response is the one `openapi.yaml` documents.
pub fn assert_documented(method: &str, path: &str, status: u16, body: &[u8]) {
    if let Err(problems) = spec().check(method, path, status, body) {
        panic!(
            "{method} {path} -> {status} does not match openapi.yaml:\n  {}\nbody: {}",
            problems.join("\n  "),
            String::from_utf8_lossy(body)
        );
    }
}

fn yaml_to_json(y: &yaml_rust2::Yaml) -> Value {
    use yaml_rust2::Yaml;
    match y {
        Yaml::Real(r) => r
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map_or(Value::Null, Value::Number),
        Yaml::Integer(i) => Value::from(*i),
        Yaml::String(s) => Value::String(s.clone()),
        Yaml::Boolean(b) => Value::Bool(*b),
        Yaml::Array(a) => Value::Array(a.iter().map(yaml_to_json).collect()),
        Yaml::Hash(h) => Value::Object(
            h.iter()
                .map(|(k, v)| {
                    let key = match k {
                        Yaml::String(s) => s.clone(),
                        Yaml::Integer(i) => i.to_string(),
                        Yaml::Boolean(b) => b.to_string(),
                        other => format!("{other:?}"),
                    };
                    (key, yaml_to_json(v))
                })
                .collect(),
        ),
        Yaml::Null | Yaml::BadValue | Yaml::Alias(_) => Value::Null,
    }
}

impl Spec {
    pub fn parse(yaml: &str) -> Result<Self, String> {
        let docs = yaml_rust2::YamlLoader::load_from_str(yaml).map_err(|e| e.to_string())?;
        let root = docs.first().map(yaml_to_json).ok_or("empty document")?;
        Ok(Self { root })
    }

    /// The documented path template a concrete path (with or without a stage
    /// prefix and query) falls under; literal segments win over parameters.
    pub fn template(&self, path: &str) -> Option<&str> {
        let path = path.split(['?', '#']).next().unwrap_or(path);
        let path = &path[path.find("/v1/")?..];
        let wanted: Vec<&str> = path.trim_end_matches('/').split('/').collect();
        let paths = self.root.get("paths")?.as_object()?;
        paths
            .keys()
            .filter_map(|t| {
                let parts: Vec<&str> = t.split('/').collect();
                if parts.len() != wanted.len() {
                    return None;
                }
                let mut literal = 0;
                for (p, w) in parts.iter().zip(&wanted) {
                    if p.starts_with('{') && p.ends_with('}') {
                        if w.is_empty() {
                            return None;
                        }
                    } else if p == w {
                        literal += 1;
                    } else {
                        return None;
                    }
                }
                Some((literal, t.as_str()))
            })
            .max()
            .map(|(_, t)| t)
    }

    /// Every documented operation, in the document's order: its method
    /// (upper case), its path template, and whether it needs a token (its
    /// own `security`, else the document's, is not empty). Tests drive their
    /// route loops from this, so a route is covered the day it is documented.
    pub fn operations(&self) -> Vec<Operation> {
        const METHODS: [&str; 5] = ["get", "put", "post", "delete", "patch"];
        let secured = |v: &Value| v.as_array().is_some_and(|a| !a.is_empty());
        let default = secured(&self.root["security"]);
        let Some(paths) = self.root.get("paths").and_then(Value::as_object) else {
            return Vec::new();
        };
        paths
            .iter()
            .flat_map(|(template, item)| {
                METHODS.iter().filter_map(move |m| {
                    let op = item.get(*m).filter(|o| o.is_object())?;
                    Some(Operation {
                        method: m.to_ascii_uppercase(),
                        template: template.clone(),
                        secured: op.get("security").map_or(default, secured),
                    })
                })
            })
            .collect()
    }

    /// Whether `method` on the route `path` falls under is documented.
    pub fn documents(&self, method: &str, path: &str) -> bool {
        self.template(path)
            .is_some_and(|t| self.root["paths"][t][method.to_ascii_lowercase()].is_object())
    }

    /// Every problem with this response, or Ok.
    pub fn check(
        &self,
        method: &str,
        path: &str,
        status: u16,
        body: &[u8],
    ) -> Result<(), Vec<String>> {
        let operation = self
            .template(path)
            .map(|t| (t, &self.root["paths"][t][method.to_ascii_lowercase()]))
            .filter(|(_, op)| op.is_object());
        let response = match operation {
            Some((template, operation)) => {
                let responses = &operation["responses"];
                match responses.get(status.to_string()) {
                    Some(r) => r,
                    None => responses.get("default").ok_or_else(|| {
                        vec![format!(
                            "status {status} of {method} {template} is not documented"
                        )]
                    })?,
                }
            }
            // No such route or method: the API-wide answers for those.
            None => match status {
                404 => &self.root["components"]["responses"]["NotFound"],
                405 => &self.root["components"]["responses"]["MethodNotAllowed"],
                _ => return Err(vec![format!("{method} {path} is not documented")]),
            },
        };
        let template = operation.map_or(path, |(t, _)| t);
        if response.is_null() {
            return Err(vec![format!(
                "{method} {path} -> {status} is not documented"
            )]);
        }
        let response = self.resolve(response);
        let content = response.get("content").and_then(Value::as_object);
        let json_schema = content
            .and_then(|c| c.get("application/json"))
            .map(|m| &m["schema"]);
        match (json_schema, body.is_empty()) {
            (_, true) => Ok(()),
            (Some(schema), false) => {
                let value: Value = serde_json::from_slice(body)
                    .map_err(|e| vec![format!("the body is not JSON: {e}")])?;
                let mut problems = Vec::new();
                self.validate(schema, &value, "body", true, &mut problems);
                if problems.is_empty() {
                    Ok(())
                } else {
                    Err(problems)
                }
            }
            (None, false) if content.is_some_and(|c| !c.is_empty()) => Ok(()),
            (None, false) => Err(vec![format!(
                "{method} {template} -> {status} documents no body, but one was sent"
            )]),
        }
    }

    fn resolve<'a>(&'a self, v: &'a Value) -> &'a Value {
        let mut v = v;
        // References chain at most a few times; the bound stops a cycle.
        for _ in 0..8 {
            let Some(r) = v.get("$ref").and_then(Value::as_str) else {
                return v;
            };
            let Some(pointer) = r.strip_prefix('#') else {
                return &Value::Null;
            };
            v = self.root.pointer(pointer).unwrap_or(&Value::Null);
        }
        v
    }

    /// The property names a schema (and its `allOf` parts) allows, or None
    /// when it allows any (`additionalProperties`, or no properties named).
    fn allowed_properties(&self, schema: &Value) -> Option<BTreeSet<String>> {
        let schema = self.resolve(schema);
        let mut names = BTreeSet::new();
        let mut named = false;
        if let Some(props) = schema.get("properties").and_then(Value::as_object) {
            named = true;
            names.extend(props.keys().cloned());
        }
        if schema
            .get("additionalProperties")
            .is_some_and(|a| a != &Value::Bool(false))
        {
            return None;
        }
        for part in schema
            .get("allOf")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            named = true;
            names.extend(self.allowed_properties(part)?);
        }
        named.then_some(names)
    }

    fn validate(
        &self,
        schema: &Value,
        value: &Value,
        at: &str,
        closed: bool,
        problems: &mut Vec<String>,
    ) {
        let schema = self.resolve(schema);
        let Some(s) = schema.as_object() else {
            return;
        };
        if value.is_null() {
            let nullable = s.get("nullable") == Some(&Value::Bool(true));
            let typed = s.contains_key("type") || s.contains_key("properties");
            if !nullable && typed {
                problems.push(format!("{at} is null, but the schema is not nullable"));
            }
            return;
        }
        if let Some(expected) = s.get("type").and_then(Value::as_str) {
            if !has_type(value, expected) {
                problems.push(format!("{at} should be {expected}: {value}"));
                return;
            }
        }
        if let Some(allowed) = s.get("enum").and_then(Value::as_array) {
            if !allowed.contains(value) {
                problems.push(format!("{at} = {value} is not one of {allowed:?}"));
            }
        }
        self.bounds(s, value, at, problems);
        for part in s
            .get("allOf")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            self.validate(part, value, at, false, problems);
        }
        for (key, need) in [("oneOf", Some(1)), ("anyOf", None)] {
            if let Some(options) = s.get(key).and_then(Value::as_array) {
                let matching = options
                    .iter()
                    .filter(|o| {
                        let mut p = Vec::new();
                        self.validate(o, value, at, true, &mut p);
                        p.is_empty()
                    })
                    .count();
                if need.map_or(matching == 0, |n| matching != n) {
                    problems.push(format!("{at} matches {matching} of the {key} schemas"));
                }
            }
        }
        if let Some(items) = s.get("items") {
            for (i, item) in value.as_array().into_iter().flatten().enumerate() {
                self.validate(items, item, &format!("{at}[{i}]"), true, problems);
            }
        }
        if let Some(object) = value.as_object() {
            self.validate_object(schema, s, object, at, closed, problems);
        }
    }

    fn validate_object(
        &self,
        schema: &Value,
        s: &Map<String, Value>,
        object: &Map<String, Value>,
        at: &str,
        closed: bool,
        problems: &mut Vec<String>,
    ) {
        for name in s
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(name) = name.as_str().filter(|n| !object.contains_key(*n)) {
                problems.push(format!("{at}.{name} is required but missing"));
            }
        }
        let props = s.get("properties").and_then(Value::as_object);
        let extra = s.get("additionalProperties");
        for (name, v) in object {
            let here = format!("{at}.{name}");
            match (props.and_then(|p| p.get(name)), extra) {
                (Some(prop), _) => self.validate(prop, v, &here, true, problems),
                (None, Some(extra)) if extra.is_object() => {
                    self.validate(extra, v, &here, true, problems)
                }
                _ => {}
            }
        }
        if closed {
            if let Some(allowed) = self.allowed_properties(schema) {
                for name in object.keys().filter(|k| !allowed.contains(*k)) {
                    problems.push(format!("{at}.{name} is not documented"));
                }
            }
        }
    }

    fn bounds(&self, s: &Map<String, Value>, value: &Value, at: &str, problems: &mut Vec<String>) {
        let limit = |k: &str| s.get(k).and_then(Value::as_f64);
        if let Some(n) = value.as_f64() {
            if limit("minimum").is_some_and(|m| n < m) || limit("maximum").is_some_and(|m| n > m) {
                problems.push(format!("{at} = {n} is out of its documented range"));
            }
        }
        if let Some(text) = value.as_str() {
            let len = text.chars().count() as f64;
            if limit("minLength").is_some_and(|m| len < m)
                || limit("maxLength").is_some_and(|m| len > m)
            {
                problems.push(format!("{at} has a length outside its documented bounds"));
            }
        }
    }
}

fn has_type(value: &Value, expected: &str) -> bool {
    match expected {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "boolean" => value.is_boolean(),
        "number" => value.is_number(),
        "integer" => value.is_i64() || value.is_u64(),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = r##"
paths:
  /v1/things:
    get:
      responses:
        "200":
          content:
            application/json:
              schema:
                type: object
                required: [items]
                properties:
                  items: {type: array, items: {$ref: "#/components/schemas/Thing"}}
                  cursor: {type: string, nullable: true}
        "404": {$ref: "#/components/responses/NotFound"}
        "405": {description: no body}
  /v1/things/{id}:
    get:
      responses:
        "200":
          content:
            application/json:
              schema:
                allOf:
                  - $ref: "#/components/schemas/Thing"
                  - type: object
                    properties:
                      extra: {type: integer, minimum: 0}
  /v1/things/special:
    get:
      responses:
        "200": {description: literal}
components:
  responses:
    NotFound:
      content:
        application/json:
          schema: {$ref: "#/components/schemas/Error"}
  schemas:
    Error:
      type: object
      required: [error, message]
      properties:
        error: {type: string}
        message: {type: string}
    Thing:
      type: object
      required: [name]
      properties:
        name: {type: string, maxLength: 5}
        kind: {type: string, enum: [a, b]}
        tags: {type: object, additionalProperties: {type: string}}
"##;

    fn check(method: &str, path: &str, status: u16, body: &str) -> Result<(), Vec<String>> {
        Spec::parse(DOC)
            .unwrap()
            .check(method, path, status, body.as_bytes())
    }

    #[test]
    fn matching_responses_pass() {
        assert_eq!(
            check(
                "GET",
                "/prod/v1/things?x=1",
                200,
                r#"{"items": [{"name": "n", "kind": "a"}], "cursor": null}"#
            ),
            Ok(())
        );
        assert_eq!(
            check(
                "GET",
                "/v1/things/7",
                200,
                r#"{"name": "n", "extra": 3, "tags": {"k": "v"}}"#
            ),
            Ok(())
        );
        assert_eq!(
            check(
                "GET",
                "/v1/things",
                404,
                r#"{"error": "not_found", "message": "m"}"#
            ),
            Ok(())
        );
        assert_eq!(check("GET", "/v1/things", 405, ""), Ok(()));
    }

    #[test]
    fn drift_in_either_direction_fails() {
        let e = |m, p, s, b| check(m, p, s, b).unwrap_err().join("; ");
        assert!(e("GET", "/v1/things", 200, r#"{"items": [{"kind": "c"}]}"#)
            .contains("name is required"));
        assert!(e(
            "GET",
            "/v1/things",
            200,
            r#"{"items": [{"name": "n", "kind": "c"}]}"#
        )
        .contains("is not one of"));
        assert!(e("GET", "/v1/things", 200, r#"{"items": [], "more": 1}"#)
            .contains("more is not documented"));
        assert!(
            e("GET", "/v1/things/7", 200, r#"{"name": "n", "other": 1}"#)
                .contains("other is not documented")
        );
        assert!(e("GET", "/v1/things/7", 200, r#"{"name": "toolong"}"#).contains("length"));
        assert!(e("GET", "/v1/things/7", 200, r#"{"name": "n", "extra": -1}"#).contains("range"));
        assert!(e("GET", "/v1/things/7", 200, r#"{"name": null}"#).contains("not nullable"));
        assert!(e("GET", "/v1/things", 200, r#"{"items": {}}"#).contains("should be array"));
        assert!(e("GET", "/v1/things", 500, "{}").contains("not documented"));
        assert!(e("POST", "/v1/things", 200, "{}").contains("not documented"));
        assert!(e("GET", "/v1/other", 200, "{}").contains("not documented"));
        assert!(
            e("DELETE", "/v1/other", 405, "{}").contains("not documented"),
            "no such API-wide answer in DOC"
        );
        assert!(e("GET", "/v1/things", 405, r#"{"error": "x"}"#).contains("documents no body"));
    }

    #[test]
    fn literal_segments_win_over_parameters() {
        let spec = Spec::parse(DOC).unwrap();
        assert_eq!(
            spec.template("/v1/things/special"),
            Some("/v1/things/special")
        );
        assert_eq!(spec.template("/v1/things/other"), Some("/v1/things/{id}"));
        assert_eq!(spec.template("/v1/things/"), Some("/v1/things"));
        assert!(spec.documents("GET", "/v1/things/7"));
        assert!(!spec.documents("PUT", "/v1/things/7"));
    }

    #[test]
    fn the_projects_document_parses() {
        assert!(spec().template("/v1/devices/ABC").is_some());
    }

    #[test]
    fn operations_say_which_need_a_token() {
        let doc = Spec::parse(
            "security:\n  - cognito: []\npaths:\n  /v1/a:\n    post:\n      security: []\n  \
             /v1/b/{id}:\n    get: {}\n    delete: {}\n",
        )
        .unwrap();
        let ops: Vec<(String, String, bool)> = doc
            .operations()
            .into_iter()
            .map(|o| (o.method.clone(), o.path_with("x"), o.secured))
            .collect();
        assert_eq!(
            ops,
            [
                ("POST".into(), "/v1/a".into(), false),
                ("GET".into(), "/v1/b/x".into(), true),
                ("DELETE".into(), "/v1/b/x".into(), true),
            ]
        );
        assert!(
            spec().operations().len() >= 26,
            "the project's own document"
        );
    }
}
