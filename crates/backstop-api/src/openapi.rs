//! The API described as OpenAPI 3.1, generated from the route handlers'
//! annotations and the wire types (utoipa), served at
//! `/api/v1/openapi.json` and kept in `docs/openapi.json`, where a test
//! compares it (regenerate with `BLESS=1 cargo test -p backstop-api`).

use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};

use crate::dashboard::{__path_logs, __path_stream};
use crate::server::{
    __path_act, __path_diagnose, __path_events, __path_fix, __path_get_service, __path_health,
    __path_list_services, __path_metrics, __path_reload, __path_scale, __path_shutdown,
};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "backstop",
        description = "Control and monitoring API of the backstop daemon: on its 0600 unix socket (`.backstop/backstop.sock`), and optionally on TCP (`[daemon] listen`), where `/api/` needs the bearer token (and is refused without a configured token), `/metrics` is open, `/health` without the token shows only states and health names (`PublicHealth`), and `/` serves the web dashboard, whose `/api/v1/stream` carries only states, health and usage without the token. Every text is redacted: secrets from the config, env files, URLs and secret-named assignments are masked.",
        license(name = "MIT OR Apache-2.0")
    ),
    paths(health, metrics, stream, events, list_services, get_service, logs, act, fix, diagnose, scale, reload, shutdown),
    components(schemas(crate::PublicHealth)),
    modifiers(&Bearer)
)]
struct ApiDoc;

struct Bearer;

impl utoipa::Modify for Bearer {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The OpenAPI document, pretty-printed JSON.
pub fn document() -> String {
    let mut doc = ApiDoc::openapi();
    // The version is not part of the golden file: it changes with releases.
    doc.info.version = String::from("1");
    doc.to_pretty_json()
        .expect("UNWRAP: the document serialises")
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_openapi_document_matches_docs_openapi_json() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/openapi.json");
        let now = super::document() + "\n";
        if std::env::var_os("BLESS").is_some() {
            std::fs::write(path, &now).unwrap();
        }
        let golden = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            golden == now,
            "docs/openapi.json is out of date: the API changed. Regenerate it with `BLESS=1 cargo test -p backstop-api` and review the diff"
        );
    }
}
