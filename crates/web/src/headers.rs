//! Headers on every answer that keep a browser from running anything a mail smuggles in, should
//! some text ever escape the templates' escaping: a Content-Security-Policy that allows no script
//! but the one inline handler of the series page (`this.select()`, by its hash), no plugins, no
//! framing; `nosniff`, so that raw mail served as text/plain is never guessed to be HTML.

use axum::extract::Request;
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

/// The policy: pages load their stylesheet from here, nothing else runs.
pub const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self' data:; script-src 'unsafe-hashes' 'sha256-biFQTroSCI3Z5BmsMGyEE2jFZdwjjG1Oe7JLytgH6jM='; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

pub async fn security(req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    resp
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_hash_is_the_series_page_handler() {
        // The hash is base64(sha256("this.select()")): the handler must stay byte for byte that.
        assert!(super::CSP.contains("'sha256-biFQTroSCI3Z5BmsMGyEE2jFZdwjjG1Oe7JLytgH6jM='"));
        assert!(include_str!("../templates/series.html").contains("onclick=\"this.select()\""));
    }
}
