//! The HTTP routes and the guard in front of every one of them.
//!
//! The guard refuses a request whose `Host` is not one of the server's own
//! names (421: a DNS-rebinding page reaches the server by another name), then
//! asks for a credential: the token in `?token=`, or the session cookie a page
//! opened with the token was given. A page opened with `?token=` is answered
//! with a hand-off page: it sets that cookie, stores the session's socket key
//! in the origin's `localStorage`, and replaces itself with the same address
//! without the token, so the token leaves the address bar (and screenshots)
//! and the key never appears in an address. A browser that arrives with
//! neither gets a page that says where to find the address. The WebSocket
//! endpoint authenticates in its own handler (`upgrade.rs`), by token or
//! socket key, never by cookie.
//!
//! No page may be framed by another origin (`frame-ancestors 'self'`): a page
//! on another port of the same host is the same *site*, so the browser would
//! send the cookie into the frame.
//!
//! Static files refuse dotfiles (`.git`, `.env`) and symlinks that lead out of
//! the directory.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bytes::Bytes;
use tower::ServiceExt as _;
use tower_http::set_header::SetResponseHeaderLayer;

use super::access::Opened;
use super::upgrade::{self, Shared};
use super::{
    INSPECT_HTML, INSPECT_JS, INSPECT_PATH, IPC_D_TS, IPC_JS, IPC_TAURI_D_TS, IPC_TAURI_JS,
};

/// A file served from memory.
#[derive(Clone)]
pub(super) struct Asset {
    pub(super) content_type: &'static str,
    pub(super) body: Bytes,
}

impl Asset {
    fn respond(&self) -> Response {
        (
            [
                (header::CONTENT_TYPE, self.content_type),
                (header::CACHE_CONTROL, "no-cache"),
            ],
            self.body.clone(),
        )
            .into_response()
    }

    fn script(source: &'static str) -> Self {
        Asset {
            content_type: "text/javascript; charset=utf-8",
            body: Bytes::from_static(source.as_bytes()),
        }
    }
}

/// What the server serves besides the WebSocket endpoint.
pub(super) struct Routes {
    pub(super) ws_path: String,
    pub(super) assets: HashMap<String, Asset>,
    pub(super) static_dir: Option<PathBuf>,
}

/// Every route, behind the guard.
pub(super) fn router(shared: Arc<Shared>, routes: Routes) -> axum::Router {
    let scripts = [
        ("/ipc.js", IPC_JS),
        ("/ipc.d.ts", IPC_D_TS),
        ("/ipc-tauri.js", IPC_TAURI_JS),
        ("/ipc-tauri.d.ts", IPC_TAURI_D_TS),
    ];
    let mut router = axum::Router::new().route(&routes.ws_path, get(upgrade::upgrade));
    for (path, source) in scripts {
        let asset = Asset::script(source);
        router = router.route(path, get(move || async move { asset.respond() }));
    }
    if shared.router.inspector.is_some() {
        let page = Asset {
            content_type: "text/html; charset=utf-8",
            body: Bytes::from(INSPECT_HTML.replace("__IPC_WS_PATH__", &routes.ws_path)),
        };
        router = router.route(INSPECT_PATH, get(move || async move { page.respond() }));
        let script = Asset::script(INSPECT_JS);
        let path = format!("{INSPECT_PATH}.js");
        router = router.route(&path, get(move || async move { script.respond() }));
    }
    for (path, asset) in routes.assets {
        router = router.route(&path, get(move || async move { asset.respond() }));
    }
    if let Some(dir) = routes.static_dir {
        let dir: Arc<Path> = Arc::from(dir);
        router = router.fallback(move |request: Request| static_file(Arc::clone(&dir), request));
    }
    router
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&shared),
            guard,
        ))
        // Pages may be opened with `?token=` in their URL: never send it on
        // as a Referer, and never keep a page that carries it in a cache.
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        // Only the app's own pages may frame its pages.
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("frame-ancestors 'self'"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("SAMEORIGIN"),
        ))
        .with_state(shared)
}

/// The guard every request passes: the right `Host`, then a credential.
async fn guard(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    let access = &shared.access;
    if !access.host_allowed(request.headers().get(header::HOST)) {
        tracing::warn!(
            host = ?request.headers().get(header::HOST),
            "request refused: not addressed to this server by one of its names"
        );
        return (
            StatusCode::MISDIRECTED_REQUEST,
            "this server answers only to its own address",
        )
            .into_response();
    }
    if request.uri().path() == shared.ws_path || !access.requires_token() {
        return next.run(request).await;
    }
    let cookies = request.headers().get(header::COOKIE);
    if let Some(proof) = query_param(request.uri(), "token").and_then(|t| access.by_token(t)) {
        if is_navigation(&request) {
            let label = proof.label();
            return match access.open_session(cookies, proof) {
                Ok(opened) => hand_off(request.uri(), label.as_deref(), &opened),
                Err(e) => {
                    tracing::error!(error = %e, "could not make a session cookie");
                    StatusCode::INTERNAL_SERVER_ERROR.into_response()
                }
            };
        }
        return next.run(request).await;
    }
    if access.by_cookie(cookies) {
        return next.run(request).await;
    }
    unauthenticated(&request)
}

/// A query parameter, as written (not percent-decoded: tokens and labels are
/// URL-safe).
pub(super) fn query_param<'a>(uri: &'a Uri, name: &str) -> Option<&'a str> {
    uri.query()?.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        (key == name).then_some(value)
    })
}

/// Whether a browser is loading a page (rather than a script or a fetch).
fn is_navigation(request: &Request) -> bool {
    let header = |name| request.headers().get(name).and_then(|v| v.to_str().ok());
    request.method() == Method::GET
        && (header("sec-fetch-mode") == Some("navigate")
            || header(header::ACCEPT.as_str()).is_some_and(|a| a.contains("text/html")))
}

/// The `localStorage` item the hand-off page stores the socket key in, and
/// `ipc.js` reads it from.
const SOCKET_KEY_ITEM: &str = "ipc-session";

/// The page that trades a token for a session: it sets the session cookie,
/// stores the socket key in the origin's `localStorage`, and replaces itself
/// with the same address without `token`. A window's page goes on to its
/// `?label=`, which its client forwards to the WebSocket (the session proves
/// the browser was given that window).
fn hand_off(uri: &Uri, label: Option<&str>, opened: &Opened) -> Response {
    let location = without_token(uri, label);
    // JSON strings, with `<` escaped so nothing can end the script element.
    let js = |text: &str| {
        serde_json::Value::from(text)
            .to_string()
            .replace('<', "\\u003c")
    };
    let page = format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Opening the app…</title>
<script>try {{ localStorage.setItem({item}, {key}); }} catch (e) {{}}
location.replace({location});</script>
</head><body><noscript>This app needs JavaScript.</noscript></body></html>
"#,
        item = js(SOCKET_KEY_ITEM),
        key = js(&opened.socket_key),
        location = js(&location),
    );
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8".to_owned()),
            (header::SET_COOKIE, opened.set_cookie.clone()),
            (header::CACHE_CONTROL, "no-store".to_owned()),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; script-src 'unsafe-inline'; frame-ancestors 'none'".to_owned(),
            ),
        ],
        page,
    )
        .into_response()
}

/// The request's address without `token` (and with the server's `label`).
fn without_token(uri: &Uri, label: Option<&str>) -> String {
    let label = label.map(|l| format!("label={l}"));
    let rest: Vec<&str> = uri
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|pair| {
            !pair.is_empty() && !pair.starts_with("token=") && !pair.starts_with("label=")
        })
        .chain(label.as_deref())
        .collect();
    if rest.is_empty() {
        uri.path().to_owned()
    } else {
        format!("{}?{}", uri.path(), rest.join("&"))
    }
}

/// The page shown to a browser that came without the token or its cookie.
const OPEN_THE_PRINTED_ADDRESS: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Open the address from the terminal</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:36em;margin:4em auto;padding:0 1em}code{background:#eee;padding:0 .2em}</style>
</head><body>
<h1>Open the address printed in the terminal</h1>
<p>This app only answers pages opened with its secret address. When it started,
it printed that address in the terminal it runs in: a line like
<code>http://127.0.0.1:8080/?token=…</code>. Open that one; it keeps working
after a reload, and the token leaves the address bar.</p>
</body></html>
"#;

fn unauthenticated(request: &Request) -> Response {
    if is_navigation(request) {
        (
            StatusCode::UNAUTHORIZED,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            OPEN_THE_PRINTED_ADDRESS,
        )
            .into_response()
    } else {
        (
            StatusCode::UNAUTHORIZED,
            "missing or wrong token: open the address the server printed",
        )
            .into_response()
    }
}

/// A file of the static directory, unless it is a dotfile or leads out of the
/// directory (through a symlink); those are 404, as if they were not there.
async fn static_file(dir: Arc<Path>, request: Request) -> Response {
    let not_found = || (StatusCode::NOT_FOUND, "not found").into_response();
    let Some(path) = decoded_path(request.uri().path()) else {
        return not_found();
    };
    if path.split('/').any(|segment| segment.starts_with('.')) {
        return not_found();
    }
    if !stays_inside(&dir, &path).await {
        return not_found();
    }
    match tower_http::services::ServeDir::new(&*dir)
        .oneshot(request)
        .await
    {
        Ok(response) => response.into_response(),
        Err(never) => match never {},
    }
}

/// The request path, percent-decoded; `None` if it does not decode to UTF-8.
fn decoded_path(path: &str) -> Option<String> {
    percent_encoding::percent_decode_str(path)
        .decode_utf8()
        .ok()
        .map(|p| p.into_owned())
}

/// Whether the file a path names (or a directory's `index.html`) really lies
/// inside `dir` once symlinks are followed. A path that does not exist stays
/// inside (the file server answers 404).
async fn stays_inside(dir: &Path, path: &str) -> bool {
    let Ok(root) = tokio::fs::canonicalize(dir).await else {
        return false;
    };
    let candidate = dir.join(path.trim_start_matches('/'));
    let mut targets = vec![candidate.clone()];
    if candidate.is_dir() {
        targets.push(candidate.join("index.html"));
    }
    for target in targets {
        match tokio::fs::canonicalize(&target).await {
            Ok(real) if !real.starts_with(&root) => return false,
            _ => {}
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_read_from_the_query() {
        let uri: Uri = "/page?a=1&token=abc&b=2".parse().unwrap();
        assert_eq!(query_param(&uri, "token"), Some("abc"));
        assert_eq!(query_param(&uri, "b"), Some("2"));
        assert_eq!(
            query_param(&"/page?xtoken=1".parse().unwrap(), "token"),
            None
        );
        assert_eq!(query_param(&"/page".parse().unwrap(), "token"), None);
    }

    #[test]
    fn the_hand_off_keeps_everything_but_the_token() {
        let uri = |s: &str| s.parse::<Uri>().unwrap();
        assert_eq!(
            without_token(&uri("/app?a=1&token=t&b=2"), None),
            "/app?a=1&b=2"
        );
        assert_eq!(without_token(&uri("/?token=t"), None), "/");
        assert_eq!(
            without_token(&uri("/?token=t&label=forged"), Some("main")),
            "/?label=main",
            "the server's label, not the URL's"
        );
    }

    #[tokio::test]
    async fn the_hand_off_page_sets_the_cookie_and_stores_the_key() {
        let opened = Opened {
            set_cookie: "c=1".into(),
            socket_key: "the-key".into(),
        };
        let response = hand_off(&"/app?token=t&a=%3C".parse().unwrap(), None, &opened);
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()[header::SET_COOKIE], "c=1");
        assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
        assert!(response.headers().get(header::LOCATION).is_none());
        let body = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap();
        let page = std::str::from_utf8(&body).unwrap();
        assert!(
            page.contains(r#"localStorage.setItem("ipc-session", "the-key")"#),
            "{page}"
        );
        assert!(page.contains(r#"location.replace("/app?a=%3C")"#), "{page}");
        assert!(!page.contains("token"), "{page}");
    }

    #[test]
    fn paths_are_decoded_before_they_are_checked() {
        assert_eq!(
            decoded_path("/%2egit/config").as_deref(),
            Some("/.git/config")
        );
        assert_eq!(decoded_path("/a%20b").as_deref(), Some("/a b"));
        assert!(decoded_path("/%ff").is_none());
    }
}
