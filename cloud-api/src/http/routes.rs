//! A router that records each route as it is added, so `/api/openapi.json` is generated from the
//! very table that serves requests and cannot drift from it.

use crate::app::AppState;
use axum::handler::Handler;
use axum::routing::{delete, get, patch, post};
use axum::Router;
use serde_json::{json, Map, Value};

#[derive(Clone, Debug)]
pub struct RouteDoc {
    pub method: &'static str,
    pub path: &'static str,
    pub summary: &'static str,
}

#[derive(Default)]
pub struct ApiRouter {
    pub router: Router<AppState>,
    pub docs: Vec<RouteDoc>,
}

macro_rules! verb {
    ($name:ident, $method:literal) => {
        pub fn $name<H, T>(mut self, path: &'static str, summary: &'static str, handler: H) -> Self
        where
            H: Handler<T, AppState>,
            T: 'static,
        {
            self.router = self.router.route(path, $name(handler));
            self.docs.push(RouteDoc { method: $method, path, summary });
            self
        }
    };
}

impl ApiRouter {
    /// A POST route that takes a large body (uploads); the limit is set per request from the config.
    pub fn post_upload<H, T>(mut self, path: &'static str, summary: &'static str, handler: H) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        self.router = self.router.route(path, post(handler).layer(axum::extract::DefaultBodyLimit::disable()));
        self.docs.push(RouteDoc { method: "post", path, summary });
        debug_assert!(crate::http::idempotency::is_upload(path), "make is_upload({path}) true");
        self
    }

    /// A PUT route with a large body (upload parts).
    pub fn put_upload<H, T>(mut self, path: &'static str, summary: &'static str, handler: H) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        self.router =
            self.router.route(path, axum::routing::put(handler).layer(axum::extract::DefaultBodyLimit::disable()));
        self.docs.push(RouteDoc { method: "put", path, summary });
        debug_assert!(crate::http::idempotency::is_upload(path), "make is_upload({path}) true");
        self
    }

    verb!(get, "get");
    verb!(post, "post");
    verb!(patch, "patch");
    verb!(delete, "delete");

    /// The OpenAPI 3.1 document for every recorded route.
    pub fn openapi(docs: &[RouteDoc]) -> Value {
        let mut paths = Map::new();
        for d in docs {
            let entry = paths.entry(d.path.to_string()).or_insert_with(|| json!({}));
            let params: Vec<Value> = d
                .path
                .split('/')
                .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.split('}').next()))
                .map(|name| json!({ "name": name, "in": "path", "required": true, "schema": { "type": "string" } }))
                .collect();
            let writes = matches!(d.method, "post" | "patch" | "delete" | "put");
            let mut op = json!({
                "summary": d.summary,
                "parameters": params,
                "responses": {
                    "default": {
                        "description": "problem+json on error",
                        "content": { "application/problem+json": { "schema": { "$ref": "#/components/schemas/Problem" } } }
                    }
                }
            });
            if writes && !d.path.starts_with("/api/auth/") && !d.path.starts_with("/api/webhooks/") {
                op["parameters"].as_array_mut().expect("array").push(json!({
                    "name": "Idempotency-Key", "in": "header", "required": true, "schema": { "type": "string" }
                }));
            }
            entry[d.method] = op;
        }
        json!({
            "openapi": "3.1.0",
            "info": { "title": "cloud-api", "version": env!("CARGO_PKG_VERSION") },
            "paths": paths,
            "components": {
                "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer" } },
                "schemas": {
                    "Problem": {
                        "type": "object",
                        "required": ["type", "title", "status", "code", "message"],
                        "properties": {
                            "type": { "type": "string" }, "title": { "type": "string" },
                            "status": { "type": "integer" }, "code": { "type": "string" },
                            "message": { "type": "string" }, "details": { "type": "object" }
                        }
                    }
                }
            },
            "security": [{ "bearer": [] }]
        })
    }
}
