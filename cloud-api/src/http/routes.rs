//! A router that records each route as it is added, so `/api/openapi.json` is generated from the
//! very table that serves requests and cannot drift from it.

use crate::app::AppState;
use crate::http::openapi::{openapi_path, Documented, OpDoc};
use axum::handler::Handler;
use axum::routing::{delete, get, patch, post, put};
use axum::Router;
use schemars::{generate::SchemaSettings, JsonSchema, SchemaGenerator};
use serde_json::{json, Map, Value};

#[derive(Clone, Debug)]
pub struct RouteDoc {
    pub method: &'static str,
    pub path: &'static str,
    pub summary: &'static str,
    /// The OpenAPI operation, read off the handler's signature.
    pub op: Value,
    /// The audit action a call of this route writes (see `crate::audit`).
    pub audit: Option<&'static str>,
}

pub struct ApiRouter {
    pub router: Router<AppState>,
    pub docs: Vec<RouteDoc>,
    gen: SchemaGenerator,
}

impl Default for ApiRouter {
    fn default() -> Self {
        let settings = SchemaSettings::draft2020_12().with(|s| {
            s.definitions_path = "/components/schemas".into();
            s.meta_schema = None;
        });
        ApiRouter { router: Router::new(), docs: Vec::new(), gen: settings.into_generator() }
    }
}

/// Logins, logouts, link redemptions and webhooks are not replayed by key.
fn public_write(path: &str) -> bool {
    crate::http::idempotency::exempt(path)
}

macro_rules! verb {
    ($name:ident, $method:literal) => {
        pub fn $name<H, T, D>(mut self, path: &'static str, summary: &'static str, handler: H) -> Self
        where
            H: Handler<T, AppState> + Documented<D>,
            T: 'static,
        {
            self.router = self.router.route(path, $name(handler));
            self.record::<H, D>($method, path, summary);
            self
        }
    };
}

impl ApiRouter {
    fn record<H: Documented<D>, D>(&mut self, method: &'static str, path: &'static str, summary: &'static str) {
        let mut doc = OpDoc::new(&mut self.gen, method, path);
        H::document(&mut doc);
        let op = doc.finish(summary, public_write(path));
        self.docs.push(RouteDoc { method, path, summary, op, audit: None });
    }

    /// The JSON body of the last route's success answer, for handlers that build their `Response`
    /// by hand (to set cookies, say).
    pub fn answers<T: JsonSchema>(mut self) -> Self {
        let schema = self.gen.subschema_for::<T>().to_value();
        let last = self.docs.last_mut().expect("a route to describe");
        last.op["responses"]["200"] =
            json!({ "description": "success", "content": { "application/json": { "schema": schema } } });
        if let Some(r) = last.op["responses"].as_object_mut() {
            r.remove("2XX");
        }
        self
    }

    /// The last route answers a success with a redirect (`302`, to its `Location`) and no body.
    pub fn redirects(mut self) -> Self {
        let last = self.docs.last_mut().expect("a route to describe");
        last.op["responses"]["302"] = json!({
            "description": "to the Location header",
            "headers": { "Location": { "schema": { "type": "string" } } }
        });
        if let Some(r) = last.op["responses"].as_object_mut() {
            r.remove("2XX");
        }
        self
    }

    /// The last route is one a browser lands on: a refusal is a page for the person (text/html), or
    /// problem+json for a request it cannot read.
    pub fn error_pages(mut self) -> Self {
        let last = self.docs.last_mut().expect("a route to describe");
        let content = json!({
            "text/html": { "schema": { "type": "string" } },
            "application/problem+json": { "schema": { "$ref": "#/components/schemas/Problem" } }
        });
        for status in ["4XX", "5XX"] {
            last.op["responses"][status] = json!({ "description": "a refusal, in words", "content": content });
        }
        self
    }

    /// Every call of the last route leaves an audit entry named `action`.
    pub fn audited(mut self, action: &'static str) -> Self {
        let last = self.docs.last_mut().expect("a route to audit");
        last.audit = Some(action);
        last.op["x-audit-action"] = json!(action);
        self
    }

    /// The audited routes, for the audit middleware.
    pub fn audit_actions(&self) -> crate::audit::Actions {
        let map = self.docs.iter().filter_map(|d| Some(((d.method.to_uppercase(), d.path.to_string()), d.audit?)));
        std::sync::Arc::new(map.collect())
    }

    /// A POST route that takes a large body (uploads); the limit is set per request from the config.
    pub fn post_upload<H, T, D>(mut self, path: &'static str, summary: &'static str, handler: H) -> Self
    where
        H: Handler<T, AppState> + Documented<D>,
        T: 'static,
    {
        self.router = self.router.route(path, post(handler).layer(axum::extract::DefaultBodyLimit::disable()));
        self.record::<H, D>("post", path, summary);
        debug_assert!(crate::http::idempotency::is_upload(path), "make is_upload({path}) true");
        self
    }

    /// A PUT route with a large body (upload parts).
    pub fn put_upload<H, T, D>(mut self, path: &'static str, summary: &'static str, handler: H) -> Self
    where
        H: Handler<T, AppState> + Documented<D>,
        T: 'static,
    {
        self.router =
            self.router.route(path, axum::routing::put(handler).layer(axum::extract::DefaultBodyLimit::disable()));
        self.record::<H, D>("put", path, summary);
        debug_assert!(crate::http::idempotency::is_upload(path), "make is_upload({path}) true");
        self
    }

    verb!(get, "get");
    verb!(post, "post");
    verb!(patch, "patch");
    verb!(put, "put");
    verb!(delete, "delete");

    /// The OpenAPI 3.1 document for every recorded route, with the schemas of every wire type.
    pub fn openapi(&mut self) -> Value {
        let problem = self.gen.subschema_for::<shared_types::error::Problem>().to_value();
        debug_assert_eq!(problem["$ref"], "#/components/schemas/Problem");
        let mut paths = Map::new();
        for d in &self.docs {
            let entry = paths.entry(openapi_path(d.path)).or_insert_with(|| json!({}));
            entry[d.method] = d.op.clone();
        }
        paths.insert(
            "/api/openapi.json".into(),
            json!({ "get": {
                "summary": "This document", "security": [],
                "responses": { "200": { "description": "OpenAPI 3.1", "content": { "application/json": { "schema": { "type": "object" } } } } }
            } }),
        );
        json!({
            "openapi": "3.1.0",
            "info": { "title": "cloud-api", "version": env!("CARGO_PKG_VERSION") },
            "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
            "paths": paths,
            "components": {
                "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer" } },
                "schemas": self.gen.definitions().clone(),
            },
            "security": [{ "bearer": [] }]
        })
    }
}
