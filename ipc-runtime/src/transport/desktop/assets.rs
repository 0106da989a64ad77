//! The pages of a window: the app's assets, served through the webview's
//! custom protocol (`app://localhost/...`), so no HTTP server is needed.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use wry::http::{Request, Response, StatusCode, header};

/// The scheme the assets are served under.
pub(super) const SCHEME: &str = "app";

/// Where the assets live, as the webview sees them: pages loaded from here
/// are the only ones the window shows and listens to.
#[cfg(not(any(target_os = "windows", target_os = "android")))]
pub(super) const ORIGIN: &str = "app://localhost";
/// Where the assets live, as the webview sees them (WebView2 maps custom
/// schemes to `http://<scheme>.localhost`).
#[cfg(any(target_os = "windows", target_os = "android"))]
pub(super) const ORIGIN: &str = "http://app.localhost";

/// One embedded file.
#[derive(Clone, Debug)]
struct Asset {
    content_type: Cow<'static, str>,
    body: Bytes,
}

/// Embedded files by path, plus the JavaScript client at `/ipc.js`,
/// `/ipc-tauri.js` (the same files the WebSocket server serves).
#[derive(Clone, Debug)]
pub(super) struct Assets {
    files: Arc<HashMap<String, Asset>>,
}

const JS: &str = "text/javascript; charset=utf-8";

impl Default for Assets {
    fn default() -> Self {
        let mut files = HashMap::new();
        for (path, body) in [
            ("/ipc.js", include_str!("../../../js/ipc.js")),
            ("/ipc-tauri.js", include_str!("../../../js/ipc-tauri.js")),
        ] {
            files.insert(
                path.to_owned(),
                Asset {
                    content_type: Cow::Borrowed(JS),
                    body: Bytes::from_static(body.as_bytes()),
                },
            );
        }
        Assets {
            files: Arc::new(files),
        }
    }
}

impl Assets {
    /// Adds (or replaces) the file at `path` (which starts with `/`; `/` is
    /// also served as `/index.html`).
    pub(super) fn insert(&mut self, path: &str, content_type: Cow<'static, str>, body: Bytes) {
        let path = if path.starts_with('/') {
            path.to_owned()
        } else {
            format!("/{path}")
        };
        Arc::make_mut(&mut self.files).insert(path, Asset { content_type, body });
    }

    /// Answers one request of the custom protocol: the asset at the URL's
    /// path (query ignored), 404 when there is none, 405 for anything but GET
    /// and HEAD.
    pub(super) fn respond(&self, request: &Request<Vec<u8>>) -> Response<Cow<'static, [u8]>> {
        let method = request.method();
        if method != wry::http::Method::GET && method != wry::http::Method::HEAD {
            return plain(StatusCode::METHOD_NOT_ALLOWED, "only GET and HEAD");
        }
        let path = request.uri().path();
        let found = self.files.get(path).or_else(|| match path {
            "/" | "" => self.files.get("/index.html"),
            "/index.html" => self.files.get("/"),
            _ => None,
        });
        let Some(asset) = found else {
            return plain(StatusCode::NOT_FOUND, "no such asset");
        };
        let body = if method == wry::http::Method::HEAD {
            Cow::Borrowed(&[][..])
        } else {
            Cow::Owned(asset.body.to_vec())
        };
        Response::builder()
            .status(StatusCode::OK)
            .header(header::CONTENT_TYPE, asset.content_type.as_ref())
            .header(header::CACHE_CONTROL, "no-cache")
            .header("X-Content-Type-Options", "nosniff")
            .body(body)
            .unwrap_or_else(|_| plain(StatusCode::INTERNAL_SERVER_ERROR, "bad asset header"))
    }
}

fn plain(status: StatusCode, text: &'static str) -> Response<Cow<'static, [u8]>> {
    let mut response = Response::new(Cow::Borrowed(text.as_bytes()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(assets: &Assets, uri: &str) -> Response<Cow<'static, [u8]>> {
        assets.respond(&Request::get(uri).body(Vec::new()).unwrap())
    }

    #[test]
    fn serves_assets_the_client_and_index_and_refuses_the_rest() {
        let mut assets = Assets::default();
        assets.insert("/", "text/html".into(), Bytes::from_static(b"<h1>hi</h1>"));
        let page = get(&assets, "app://localhost/?x=1");
        assert_eq!(page.status(), StatusCode::OK);
        assert_eq!(&page.body()[..], &b"<h1>hi</h1>"[..]);
        assert_eq!(page.headers()[header::CONTENT_TYPE], "text/html");
        assert_eq!(
            &get(&assets, "app://localhost/index.html").body()[..],
            &b"<h1>hi</h1>"[..]
        );
        let js = get(&assets, "app://localhost/ipc.js");
        assert!(
            std::str::from_utf8(js.body())
                .unwrap()
                .contains("export async function connect")
        );
        assert_eq!(
            get(&assets, "app://localhost/nope").status(),
            StatusCode::NOT_FOUND
        );
        let post = assets.respond(
            &Request::post("app://localhost/")
                .body(b"x".to_vec())
                .unwrap(),
        );
        assert_eq!(post.status(), StatusCode::METHOD_NOT_ALLOWED);
    }
}
