//! What every response carries and every POST must pass: a Content-Security-Policy that
//! allows only the console's own style sheet and script (no inline code, no framing, no
//! other origin), and a same-origin check of state-changing requests on top of the
//! SameSite cookie and the CSRF token.

use axum::extract::Request;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

pub async fn headers(request: Request, next: Next) -> Response {
    if request.method() == Method::POST
        && let Some(refusal) = cross_origin(&request)
    {
        return (StatusCode::FORBIDDEN, refusal).into_response();
    }
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// Why a POST is refused as coming from another site, if it is: browsers name the
/// initiator in `Sec-Fetch-Site` and `Origin`; either, when present, must be this host.
fn cross_origin(request: &Request) -> Option<&'static str> {
    let headers = request.headers();
    if let Some(site) = headers.get("sec-fetch-site")
        && !matches!(site.as_bytes(), b"same-origin" | b"none")
    {
        return Some("refused: the request comes from another site (Sec-Fetch-Site)");
    }
    let origin = headers.get(header::ORIGIN)?;
    // HTTP/1.1 names the host in `Host`; HTTP/2 (what browsers speak over TLS) in the
    // `:authority` pseudo-header, which arrives as the URI's authority.
    let host = headers
        .get(header::HOST)
        .and_then(|host| host.to_str().ok())
        .or_else(|| {
            request
                .uri()
                .authority()
                .map(|authority| authority.as_str())
        });
    let origin_host = origin
        .to_str()
        .ok()
        .and_then(|origin| origin.split_once("://"))
        .map(|(_, host)| host);
    match (origin_host, host) {
        (Some(origin), Some(host)) if origin.eq_ignore_ascii_case(host) => None,
        _ => Some("refused: the request's Origin is not this console"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;

    fn post(uri: &str, headers: &[(&str, &str)]) -> Request {
        let mut builder = Request::builder().method(Method::POST).uri(uri);
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.body(Body::empty()).expect("a request")
    }

    #[test]
    fn same_origin_posts_pass_over_http1_and_http2() {
        let http1 = post(
            "/console/sign-in",
            &[
                ("host", "127.0.0.1:9443"),
                ("origin", "https://127.0.0.1:9443"),
            ],
        );
        assert_eq!(cross_origin(&http1), None);
        // HTTP/2 carries no Host header: the authority is in the URI.
        let http2 = post(
            "https://127.0.0.1:9443/console/sign-in",
            &[
                ("origin", "https://127.0.0.1:9443"),
                ("sec-fetch-site", "same-origin"),
            ],
        );
        assert_eq!(cross_origin(&http2), None);
        // A client that sends neither (curl, a test's HTTP client) relies on the CSRF token.
        assert_eq!(cross_origin(&post("/console/sign-in", &[])), None);
    }

    #[test]
    fn cross_origin_posts_are_refused() {
        let other_origin = post(
            "https://127.0.0.1:9443/console/sign-in",
            &[("origin", "https://evil.example")],
        );
        assert!(cross_origin(&other_origin).is_some());
        let other_site = post(
            "/console/sign-in",
            &[("host", "127.0.0.1:9443"), ("sec-fetch-site", "cross-site")],
        );
        assert!(cross_origin(&other_site).is_some());
        let no_host = post("/console/sign-in", &[("origin", "https://127.0.0.1:9443")]);
        assert!(cross_origin(&no_host).is_some());
    }
}
