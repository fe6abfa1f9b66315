//! The OpenAPI 3.1 operation of a route, read off its handler's signature: each extractor says what
//! it takes from the request (path and query parameters, the JSON body, a bearer token) and the
//! return type says what the answer holds. Schemas come from the `shared-types` wire types through
//! `schemars`, so the document is generated from the very types that serve requests.

use crate::auth::Caller;
use crate::error::ApiError;
use crate::http::extract::{ApiForm, ApiJson, ApiMultipart, ApiPath, ApiQuery, CsvBody};
use crate::http::idempotency::IdemKey;
use crate::spool::Spooled;
use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderName, StatusCode};
use axum::response::{Html, Response};
use axum::{Extension, Json};
use schemars::{JsonSchema, SchemaGenerator};
use serde_json::{json, Map, Value};
use std::future::Future;
use std::sync::Arc;

/// The operation being described, and the generator collecting the named schemas.
pub struct OpDoc<'a> {
    pub gen: &'a mut SchemaGenerator,
    pub method: &'static str,
    /// Path parameter names, in the order they appear in the route.
    pub path_params: Vec<&'static str>,
    pub parameters: Vec<Value>,
    pub request_body: Option<Value>,
    pub responses: Map<String, Value>,
    pub authenticated: bool,
}

impl<'a> OpDoc<'a> {
    pub fn new(gen: &'a mut SchemaGenerator, method: &'static str, path: &'static str) -> Self {
        let path_params = path
            .split('/')
            .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.split('}').next()))
            .map(|name| name.trim_start_matches('*'))
            .collect();
        OpDoc {
            gen,
            method,
            path_params,
            parameters: Vec::new(),
            request_body: None,
            responses: Map::new(),
            authenticated: false,
        }
    }

    fn writes(&self) -> bool {
        self.method != "get"
    }

    /// The definition a `$ref` schema points at (inline schemas are returned as they are).
    fn resolve(&self, schema: &Value) -> Value {
        match schema.get("$ref").and_then(Value::as_str).and_then(|r| r.rsplit('/').next()) {
            Some(name) => self.gen.definitions().get(name).cloned().unwrap_or(Value::Bool(true)),
            None => schema.clone(),
        }
    }

    fn body(&mut self, media: &str, schema: Value) {
        if self.writes() {
            self.request_body = Some(json!({ "required": true, "content": { media: { "schema": schema } } }));
        }
    }

    fn success(&mut self, status: &str, content: Option<(&str, Value)>) {
        let mut r = json!({ "description": "success" });
        if let Some((media, schema)) = content {
            r["content"] = json!({ media: { "schema": schema } });
        }
        self.responses.insert(status.into(), r);
    }

    /// The finished operation.
    pub fn finish(self, summary: &str, public_write: bool) -> Value {
        let mut parameters = self.parameters;
        // Path parameters no extractor described (a handler that reads none) are still strings.
        for name in &self.path_params {
            if !parameters.iter().any(|p| p["in"] == "path" && p["name"] == *name) {
                parameters
                    .push(json!({ "name": name, "in": "path", "required": true, "schema": { "type": "string" } }));
            }
        }
        if self.method != "get" && !public_write {
            parameters.push(json!({
                "name": "Idempotency-Key", "in": "header", "required": true,
                "description": "Retrying with the same key returns the first answer and writes nothing again.",
                "schema": { "type": "string", "minLength": 1, "maxLength": 255, "pattern": "^[!-~]+$" }
            }));
        }
        let mut op = json!({ "summary": summary, "parameters": parameters, "responses": self.responses });
        if let Some(b) = self.request_body {
            op["requestBody"] = b;
        }
        op["responses"]["default"] = json!({
            "description": "problem+json on error",
            "content": { "application/problem+json": { "schema": { "$ref": "#/components/schemas/Problem" } } }
        });
        op["security"] = if self.authenticated { json!([{ "bearer": [] }]) } else { json!([]) };
        op
    }
}

/// What an extractor takes from the request.
pub trait DescribeArg {
    fn describe(_doc: &mut OpDoc) {}
}

/// What a handler's answer holds.
pub trait DescribeResponse {
    fn describe(doc: &mut OpDoc);
}

impl<T> DescribeArg for State<T> {}
impl DescribeArg for Extension<IdemKey> {}

/// An upload part, spooled to disk by the idempotency layer before the handler runs.
impl DescribeArg for Extension<Arc<Spooled>> {
    fn describe(doc: &mut OpDoc) {
        doc.body("application/octet-stream", json!({ "type": "string", "format": "binary" }));
    }
}
impl<T> DescribeArg for ConnectInfo<T> {}
impl DescribeArg for HeaderMap {}
impl DescribeArg for Result<WebSocketUpgrade, WebSocketUpgradeRejection> {}

impl DescribeArg for Caller {
    fn describe(doc: &mut OpDoc) {
        doc.authenticated = true;
    }
}

impl<T: JsonSchema> DescribeArg for ApiJson<T> {
    fn describe(doc: &mut OpDoc) {
        let schema = doc.gen.subschema_for::<T>().to_value();
        doc.body("application/json", schema);
    }
}

impl<T: JsonSchema> DescribeArg for ApiForm<T> {
    fn describe(doc: &mut OpDoc) {
        let schema = doc.gen.subschema_for::<T>().to_value();
        doc.body("application/x-www-form-urlencoded", schema);
    }
}

impl<T: JsonSchema> DescribeArg for ApiPath<T> {
    fn describe(doc: &mut OpDoc) {
        let schema = doc.gen.subschema_for::<T>().to_value();
        // A tuple of parameters is an array with one item schema per parameter, in order.
        let each: Vec<Value> = match schema.get("prefixItems").and_then(Value::as_array) {
            Some(items) => items.clone(),
            None => vec![schema; doc.path_params.len().min(1)],
        };
        for (name, schema) in doc.path_params.clone().into_iter().zip(each) {
            doc.parameters.push(json!({ "name": name, "in": "path", "required": true, "schema": schema }));
        }
    }
}

impl<T: JsonSchema> DescribeArg for ApiQuery<T> {
    fn describe(doc: &mut OpDoc) {
        let schema = doc.gen.subschema_for::<T>().to_value();
        let def = doc.resolve(&schema);
        let required: Vec<&str> =
            def["required"].as_array().map(|r| r.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
        if let Some(props) = def["properties"].as_object() {
            for (name, schema) in props {
                let mut p = json!({ "name": name, "in": "query", "required": required.contains(&name.as_str()) });
                p["schema"] = schema.clone();
                if let Some(d) = schema.get("description") {
                    p["description"] = d.clone();
                }
                doc.parameters.push(p);
            }
        }
    }
}

/// The raw body of a recording upload (or a multipart form with a `file` field).
impl DescribeArg for Request {
    fn describe(doc: &mut OpDoc) {
        doc.body("application/octet-stream", json!({ "type": "string", "format": "binary" }));
    }
}

impl DescribeArg for CsvBody {
    fn describe(doc: &mut OpDoc) {
        doc.body("text/csv", json!({ "type": "string" }));
    }
}

impl DescribeArg for ApiMultipart {
    fn describe(doc: &mut OpDoc) {
        let form = json!({
            "type": "object",
            "required": ["file"],
            "properties": {
                "file": { "type": "string", "format": "binary" },
                "type": { "type": "string", "enum": ["slide_deck", "image", "whiteboard_background"] },
                "sceneId": { "type": "string", "format": "uuid" },
                "sessionId": { "type": "string", "format": "uuid" },
                "title": { "type": "string" }
            }
        });
        doc.body("multipart/form-data", form);
    }
}

/// A webhook's signed body, read raw to check its signature.
impl DescribeArg for axum::body::Bytes {
    fn describe(doc: &mut OpDoc) {
        doc.body("application/webhook+json", json!({ "type": "string" }));
    }
}

impl<T: JsonSchema> DescribeResponse for Json<T> {
    fn describe(doc: &mut OpDoc) {
        let schema = doc.gen.subschema_for::<T>().to_value();
        doc.success("200", Some(("application/json", schema)));
    }
}

/// `(status, Json)`: 201 for a creation, 202 for queued work — any 2xx with this body.
impl<T: JsonSchema> DescribeResponse for (StatusCode, Json<T>) {
    fn describe(doc: &mut OpDoc) {
        let schema = doc.gen.subschema_for::<T>().to_value();
        doc.success("2XX", Some(("application/json", schema)));
    }
}

impl DescribeResponse for StatusCode {
    fn describe(doc: &mut OpDoc) {
        doc.success("2XX", None);
    }
}

impl DescribeResponse for (StatusCode, HeaderMap) {
    fn describe(doc: &mut OpDoc) {
        doc.success("2XX", None);
    }
}

impl DescribeResponse for Html<&'static str> {
    fn describe(doc: &mut OpDoc) {
        doc.success("200", Some(("text/html", json!({ "type": "string" }))));
    }
}

impl DescribeResponse for ([(HeaderName, &'static str); 1], String) {
    fn describe(doc: &mut OpDoc) {
        doc.success("200", Some(("text/plain", json!({ "type": "string" }))));
    }
}

/// A hand-built answer (a file, a socket upgrade, a body with cookies): the route states its body
/// with [`crate::http::routes::ApiRouter::answers`] when it is JSON.
impl DescribeResponse for Response {
    fn describe(doc: &mut OpDoc) {
        doc.success("2XX", None);
    }
}

impl<T: DescribeResponse> DescribeResponse for Result<T, ApiError> {
    fn describe(doc: &mut OpDoc) {
        T::describe(doc);
    }
}

/// A handler whose arguments and answer can be described.
pub trait Documented<M> {
    fn document(doc: &mut OpDoc);
}

macro_rules! documented {
    ($($arg:ident),*) => {
        impl<F, Fut, R, $($arg,)*> Documented<(R, $($arg,)*)> for F
        where
            F: FnOnce($($arg),*) -> Fut,
            Fut: Future<Output = R>,
            R: DescribeResponse,
            $($arg: DescribeArg,)*
        {
            fn document(doc: &mut OpDoc) {
                $($arg::describe(doc);)*
                R::describe(doc);
            }
        }
    };
}

documented!();
documented!(A1);
documented!(A1, A2);
documented!(A1, A2, A3);
documented!(A1, A2, A3, A4);
documented!(A1, A2, A3, A4, A5);
documented!(A1, A2, A3, A4, A5, A6);
documented!(A1, A2, A3, A4, A5, A6, A7);

/// The route as OpenAPI writes it: axum's catch-all `{*key}` is a plain `{key}` there.
pub fn openapi_path(path: &str) -> String {
    path.replace("{*", "{")
}
