//! Every answer a test receives is checked against `/api/openapi.json`: the route's documented
//! response for that status must exist and, when it is JSON, the body must match its schema. So the
//! whole suite, not only the Schemathesis run, keeps the generated document honest.

use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

struct Contract {
    doc: Value,
    /// (template segments, method → operation), most literal templates first.
    routes: Vec<(Vec<String>, Value)>,
    validators: Mutex<HashMap<String, Arc<jsonschema::Validator>>>,
}

fn contract() -> &'static Contract {
    static C: OnceLock<Contract> = OnceLock::new();
    C.get_or_init(|| {
        let doc = cloud_api::app::openapi_document();
        let mut routes: Vec<(Vec<String>, Value)> = doc["paths"]
            .as_object()
            .expect("paths")
            .iter()
            .map(|(p, ops)| (p.trim_start_matches('/').split('/').map(str::to_string).collect(), ops.clone()))
            .collect();
        let literal = |segs: &Vec<String>| segs.iter().filter(|s| !s.starts_with('{')).count();
        routes.sort_by_key(|(segs, _)| std::cmp::Reverse(literal(segs)));
        Contract { doc, routes, validators: Mutex::new(HashMap::new()) }
    })
}

fn matches(template: &[String], path: &[&str]) -> bool {
    // The blob route's last parameter takes the rest of the path.
    if template.last().is_some_and(|s| s == "{key}") && template.len() <= path.len() {
        return template.iter().zip(path).all(|(t, p)| t.starts_with('{') || t == p);
    }
    template.len() == path.len() && template.iter().zip(path).all(|(t, p)| t.starts_with('{') || t == p)
}

/// Paths outside the API, exempt from the document: the student web app and the media pages are files
/// served from disk (`STUDENT_WEB_DIR`, `MEDIA_DIR`), and `/` sends the browser to them.
const NOT_API: &[&str] = &["/app", "/media/", "/"];

fn not_api(path: &str) -> bool {
    NOT_API.iter().any(|p| {
        if p.ends_with('/') && p.len() > 1 {
            path.starts_with(p)
        } else {
            path == *p || path.starts_with(&format!("{p}/"))
        }
    })
}

/// Panics (failing the test) when the answer is not what the document promises: every answer of
/// every route — an undocumented route may only answer a 4xx problem (the fallback's 404/405), a
/// documented one only a documented status, with a body of a documented media type that matches its
/// schema when it is JSON. Exempt, and why: the paths of [`NOT_API`] (files, not API answers);
/// answers whose documented response names no content (hand-built ones: blob downloads, socket
/// upgrades — the route says nothing of their body, so there is nothing to hold them to).
pub fn check(method: &str, url_path: &str, status: u16, content_type: Option<&str>, body: &[u8]) {
    let c = contract();
    let path = url_path.split('?').next().unwrap_or("");
    let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let method = method.to_ascii_lowercase();
    let Some((_, ops)) = c.routes.iter().find(|(t, ops)| matches(t, &segs) && ops.get(&method).is_some()) else {
        // Unknown routes answer 404/405 problems from the fallback; those are checked as problems.
        if (400..500).contains(&status) {
            check_schema(c, &json!({ "$ref": "#/components/schemas/Problem" }), body, method.as_str(), path, status);
        } else if !not_api(path) {
            panic!("{method} {path} answered {status}, but /api/openapi.json has no such route");
        }
        return;
    };
    let responses = &ops[&method]["responses"];
    let class = format!("{}XX", status / 100);
    let documented = responses.get(status.to_string()).or_else(|| responses.get(&class)).or_else(|| {
        // Errors fall under `default`; a success must be documented by its own status or class.
        (status >= 400).then(|| responses.get("default")).flatten()
    });
    let Some(documented) = documented else {
        panic!("{method} {path} answered {status}, which /api/openapi.json does not document: {responses}");
    };
    let media = content_type.map(|ct| ct.split(';').next().unwrap_or("").trim()).unwrap_or("");
    let Some(listed) = documented["content"].as_object().filter(|l| !l.is_empty()) else {
        // The document names no body for this answer (see above): nothing to hold it to.
        return;
    };
    if body.is_empty() && (method == "head" || status == 204 || status == 304) {
        return;
    }
    let Some(m) = listed.get(media) else {
        panic!(
            "{method} {path} answered {status} as {:?} ({} bytes); the document lists {:?}",
            media,
            body.len(),
            listed.keys().collect::<Vec<_>>()
        );
    };
    if media.ends_with("json") {
        check_schema(c, &m["schema"], body, &method, path, status);
    }
}

fn check_schema(c: &Contract, schema: &Value, body: &[u8], method: &str, path: &str, status: u16) {
    let key = schema.to_string();
    let validator = {
        let mut cache = c.validators.lock().expect("validators");
        cache
            .entry(key)
            .or_insert_with(|| {
                let mut root = schema.clone();
                root["$schema"] = json!("https://json-schema.org/draft/2020-12/schema");
                root["components"] = c.doc["components"].clone();
                Arc::new(jsonschema::validator_for(&root).expect("a schema of the document compiles"))
            })
            .clone()
    };
    let instance: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => panic!("{method} {path} answered {status} with a body that is not JSON: {e}"),
    };
    let errors: Vec<String> =
        validator.iter_errors(&instance).map(|e| format!("{} at {}", e, e.instance_path())).collect();
    assert!(
        errors.is_empty(),
        "{method} {path} answered {status} with a body that does not match /api/openapi.json:\n  {}\nbody: {}",
        errors.join("\n  "),
        String::from_utf8_lossy(body).chars().take(2000).collect::<String>()
    );
}

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn a_matching_answer_passes() {
        check("GET", "/healthz", 200, Some("application/json"), br#"{"status":"ok"}"#);
        check(
            "GET",
            "/api/sessions/0190a2a0-0000-7000-8000-000000000000",
            404,
            Some("application/problem+json"),
            br#"{"type":"t","title":"Not Found","status":404,"code":"not_found","message":"no such session"}"#,
        );
    }

    #[test]
    #[should_panic(expected = "does not match")]
    fn a_body_of_the_wrong_shape_fails() {
        check("GET", "/healthz", 200, Some("application/json"), br#"{"status":5}"#);
    }

    #[test]
    #[should_panic(expected = "does not document")]
    fn an_undocumented_status_fails() {
        check("GET", "/healthz", 201, Some("application/json"), br#"{"status":"ok"}"#);
    }

    #[test]
    #[should_panic(expected = "has no such route")]
    fn a_success_on_an_undocumented_route_fails() {
        check("GET", "/api/nowhere", 200, Some("application/json"), br#"{}"#);
    }

    #[test]
    #[should_panic(expected = "the document lists")]
    fn a_json_answer_without_json_fails() {
        check("GET", "/healthz", 200, Some("text/html"), b"<p>ok</p>");
    }

    #[test]
    #[should_panic(expected = "the document lists")]
    fn an_empty_answer_where_json_is_promised_fails() {
        check("GET", "/healthz", 200, None, b"");
    }

    #[test]
    fn the_web_app_is_not_the_api() {
        check("GET", "/app/", 200, Some("text/html"), b"<html></html>");
        check("GET", "/media/watch.html", 200, Some("text/html"), b"<html></html>");
    }

    #[test]
    #[should_panic(expected = "does not match")]
    fn a_problem_without_its_code_fails() {
        check("POST", "/api/chat", 422, Some("application/problem+json"), br#"{"status":422}"#);
    }
}
