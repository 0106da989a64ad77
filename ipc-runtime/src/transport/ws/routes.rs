//! The HTTP routes and the guard in front of every one of them.
//!
//! The guard refuses a request whose `Host` is not one of the server's own
//! names (421: a DNS-rebinding page reaches the server by another name), then
//! asks for a credential: the token in `?token=`, or the session cookie a page
//! opened with the token was given. A page opened with `?token=` is answered
//! with that cookie and a redirect to the same address without the token, so
//! the token leaves the address bar (and history, and screenshots). A browser
//! that arrives with neither gets a page that says where to find the address.
//! The WebSocket endpoint authenticates in its own handler (`upgrade.rs`).
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

use super::upgrade::{self, Shared};
use super::{IPC_D_TS, IPC_JS, IPC_TAURI_D_TS, IPC_TAURI_JS};

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
                Ok(cookie) => redirect_without_token(request.uri(), label.as_deref(), &cookie),
                Err(e) => {
                    tracing::error!(error = %e, "could not make a session cookie");
                    StatusCode::INTERNAL_SERVER_ERROR.into_response()
                }
            };
        }
        return next.run(request).await;
    }
    if access.by_cookie(cookies, None).is_ok() {
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

/// 303 to the same address without `token`, setting the session cookie. A
/// window's page is sent to its `?label=`, which its client forwards to the
/// WebSocket (the session proves the browser was given that window).
fn redirect_without_token(uri: &Uri, label: Option<&str>, cookie: &str) -> Response {
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
    let location = if rest.is_empty() {
        uri.path().to_owned()
    } else {
        format!("{}?{}", uri.path(), rest.join("&"))
    };
    (
        StatusCode::SEE_OTHER,
        [
            (header::LOCATION, location),
            (header::SET_COOKIE, cookie.to_owned()),
            (header::CACHE_CONTROL, "no-store".to_owned()),
        ],
    )
        .into_response()
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
    fn the_redirect_keeps_everything_but_the_token() {
        let uri = "/app?a=1&token=t&b=2".parse().unwrap();
        let response = redirect_without_token(&uri, None, "c=1");
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        assert_eq!(response.headers()[header::LOCATION], "/app?a=1&b=2");
        assert_eq!(response.headers()[header::SET_COOKIE], "c=1");
        let bare = redirect_without_token(&"/?token=t".parse().unwrap(), None, "c=1");
        assert_eq!(bare.headers()[header::LOCATION], "/");
        let window = redirect_without_token(
            &"/?token=t&label=forged".parse().unwrap(),
            Some("main"),
            "c",
        );
        assert_eq!(
            window.headers()[header::LOCATION],
            "/?label=main",
            "the server's label, not the URL's"
        );
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
