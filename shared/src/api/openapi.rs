//! `GET /v1/openapi.json`: the OpenAPI 3.1 document of the merchant API, served without authentication.
//! The document is `openapi.json` beside this file; `shared/tests/openapi.rs` keeps it equal to `ROUTES`.

use super::ApiResponse;

/// The document as served.
const DOCUMENT: &str = include_str!("openapi.json");

pub(super) fn document() -> ApiResponse {
    ApiResponse { status: 200, body: DOCUMENT.to_string(), content_type: None, headers: Vec::new() }
}
