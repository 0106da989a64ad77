//! Who may use the server: the `Host` it is reached by, the token or session
//! cookie a request carries, and the `Origin` of a page that opens a
//! WebSocket. Each check is a small function here; `routes.rs` and
//! `upgrade.rs` apply them.
//!
//! **Credentials.** A request authenticates with a token (`?token=`): the
//! launch token, a window's token (which also binds a label), or a token given
//! to `grant_token` (scoped to its capabilities). A page opened with a token is
//! given a session standing for the same credentials, so the token can leave
//! the address bar. A session has two secrets, random values of their own,
//! never the token:
//!
//! * a cookie (`HttpOnly`, `SameSite=Strict`), which loads the app's pages and
//!   files, and nothing else;
//! * a socket key, which the hand-off page stores in the origin's
//!   `localStorage` and the page's client sends as `?session=`: it opens the
//!   WebSocket. Browsers send cookies to every port of a host, so any local
//!   server the browser visits could replay the cookie; `localStorage` is
//!   kept per origin (port included), so the key stays with the app's pages.
//!
//! One browser holds one session: opening a second window's address adds
//! that window to it, and a page names which of its session's windows it is
//! with `?label=` (it can only name windows this browser was given).

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use axum::http::HeaderValue;

use crate::secret;

/// How many window tokens a server mints at most (one per label).
const MAX_WINDOWS: usize = 1024;
/// How many session cookies a server remembers; the oldest is forgotten first.
const MAX_SESSIONS: usize = 1024;

/// What a request authenticated as.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Credential {
    /// The server requires no token.
    Open,
    /// The launch token: the app's own pages.
    Launch,
    /// A window's token: the app's own page, with a label bound to it.
    Window {
        /// The window's label.
        label: Arc<str>,
    },
    /// A token given to `grant_token`: only its capabilities.
    Grant,
}

/// A credential and the token it was proven with (what the capability check
/// is given).
#[derive(Clone)]
#[cfg_attr(test, derive(Debug))]
pub(super) struct Proof {
    pub(super) credential: Credential,
    pub(super) token: Option<Arc<str>>,
}

impl Proof {
    /// The label the server binds to a connection with this proof.
    pub(super) fn label(&self) -> Option<String> {
        match &self.credential {
            Credential::Window { label } => Some(label.to_string()),
            _ => None,
        }
    }
}

/// What an `Origin` header says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Origin<'a> {
    /// No header: not a browser.
    Absent,
    /// A header that is not visible ASCII: refused, never taken as absent.
    Malformed,
    /// A browser page's origin.
    Page(&'a str),
}

impl<'a> Origin<'a> {
    pub(super) fn of(header: Option<&'a HeaderValue>) -> Self {
        match header {
            None => Origin::Absent,
            Some(value) => value.to_str().map_or(Origin::Malformed, Origin::Page),
        }
    }

    pub(super) fn as_str(self) -> Option<&'a str> {
        match self {
            Origin::Page(origin) => Some(origin),
            Origin::Absent | Origin::Malformed => None,
        }
    }
}

/// A browser's session: its cookie's value, its socket key, and what they
/// stand for.
struct Session {
    cookie: String,
    socket_key: String,
    proofs: Vec<Proof>,
}

impl Session {
    /// The proof a request with this cookie and `label` stands for: the
    /// window so labelled, or without a label the session's first
    /// credential that is not a window's (else its first).
    fn proof(&self, label: Option<&str>) -> Option<Proof> {
        match label {
            Some(label) => self
                .proofs
                .iter()
                .find(|p| p.label().as_deref() == Some(label)),
            None => self
                .proofs
                .iter()
                .find(|p| p.label().is_none())
                .or(self.proofs.first()),
        }
        .cloned()
    }
}

/// Why a session's cookie or key does not let a request in.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Refused {
    /// No cookie or key, or one the server does not know.
    NoSession,
    /// The session was not given the window the request names.
    NotYourWindow,
}

/// The admission rules of one server.
pub(super) struct Access {
    /// `None` when the server requires no token.
    launch: Option<String>,
    /// Tokens given to `grant_token`.
    grants: Vec<String>,
    /// Minted window tokens and their labels.
    windows: Mutex<Vec<(String, Arc<str>)>>,
    sessions: Mutex<VecDeque<Session>>,
    /// `Host` values the server answers to.
    hosts: Vec<String>,
    /// Origins allowed besides the server's own.
    origins: Vec<String>,
    any_origin: bool,
    cookie_name: String,
    /// WebSocket connections open now.
    open: AtomicUsize,
}

/// What [`Access::new`] is made from.
pub(super) struct AccessConfig {
    pub(super) launch: Option<String>,
    pub(super) grants: Vec<String>,
    pub(super) extra_hosts: Vec<String>,
    pub(super) extra_origins: Vec<String>,
    pub(super) any_origin: bool,
}

impl Access {
    pub(super) fn new(config: AccessConfig, local: SocketAddr) -> Self {
        let port = local.port();
        let mut hosts = vec![
            format!("127.0.0.1:{port}"),
            format!("localhost:{port}"),
            format!("[::1]:{port}"),
        ];
        if !local.ip().is_loopback() {
            hosts.push(local.to_string());
        }
        let mut origins: Vec<String> = hosts.iter().map(|h| format!("http://{h}")).collect();
        hosts.extend(config.extra_hosts);
        origins.extend(config.extra_origins);
        Access {
            launch: config.launch,
            grants: config.grants,
            windows: Mutex::new(Vec::new()),
            sessions: Mutex::new(VecDeque::new()),
            hosts,
            origins,
            any_origin: config.any_origin,
            cookie_name: format!("ipc-session-{port}"),
            open: AtomicUsize::new(0),
        }
    }

    /// Whether the request was addressed to this server by one of its own
    /// names (a DNS-rebinding page reaches it by another).
    pub(super) fn host_allowed(&self, host: Option<&HeaderValue>) -> bool {
        let Some(host) = host.and_then(|h| h.to_str().ok()) else {
            return false;
        };
        self.hosts
            .iter()
            .any(|allowed| allowed.eq_ignore_ascii_case(host))
    }

    /// A browser page's origin must be the server's own or allowed; clients
    /// that send no `Origin` are not browsers and are judged by their token
    /// alone; a malformed `Origin` is refused.
    pub(super) fn origin_allowed(&self, origin: Origin<'_>) -> bool {
        match origin {
            Origin::Absent => true,
            Origin::Malformed => false,
            Origin::Page(_) if self.any_origin => true,
            Origin::Page(origin) => self.origins.iter().any(|allowed| allowed == origin),
        }
    }

    /// Whether a token is required at all.
    pub(super) fn requires_token(&self) -> bool {
        self.launch.is_some()
    }

    /// What `token` proves, if anything. Every candidate is compared, each in
    /// constant time, so timing tells a guesser nothing.
    pub(super) fn by_token(&self, token: &str) -> Option<Proof> {
        let Some(launch) = &self.launch else {
            return Some(Proof {
                credential: Credential::Open,
                token: None,
            });
        };
        let mut found = None;
        if secret::same(launch.as_bytes(), token.as_bytes()) {
            found = Some(Credential::Launch);
        }
        for (window, label) in self.lock_windows().iter() {
            if secret::same(window.as_bytes(), token.as_bytes()) {
                found = Some(Credential::Window {
                    label: Arc::clone(label),
                });
            }
        }
        for grant in &self.grants {
            if secret::same(grant.as_bytes(), token.as_bytes()) {
                found = Some(Credential::Grant);
            }
        }
        found.map(|credential| Proof {
            credential,
            token: Some(Arc::from(token)),
        })
    }

    /// What a WebSocket upgrade proves: its token if it has a valid one,
    /// else its session's socket key (as the window `label` when it names
    /// one). A cookie never opens a socket.
    pub(super) fn authenticate(
        &self,
        token: Option<&str>,
        socket_key: Option<&str>,
        label: Option<&str>,
    ) -> Result<Proof, Refused> {
        if let Some(proof) = token.and_then(|t| self.by_token(t)) {
            return Ok(proof);
        }
        if !self.requires_token() {
            return self.by_token("").ok_or(Refused::NoSession);
        }
        let sessions = self.lock_sessions();
        let key = socket_key.ok_or(Refused::NoSession)?;
        let session = find_session(&sessions, |s| &s.socket_key, key).ok_or(Refused::NoSession)?;
        session.proof(label).ok_or(Refused::NotYourWindow)
    }

    /// Whether the request's session cookie is one this server gave: what
    /// lets a browser load the app's pages and files without the token.
    pub(super) fn by_cookie(&self, cookies: Option<&HeaderValue>) -> bool {
        self.session_by_cookie(&self.lock_sessions(), cookies)
            .is_some()
    }

    /// The session a `Cookie` header names.
    fn session_by_cookie<'s>(
        &self,
        sessions: &'s VecDeque<Session>,
        cookies: Option<&HeaderValue>,
    ) -> Option<&'s Session> {
        let value = cookie(cookies?, &self.cookie_name)?;
        find_session(sessions, |s| &s.cookie, value)
    }

    /// Adds `proof` to the request's session (the one its cookie names), or
    /// opens a session for it. The oldest session is forgotten when there are
    /// too many.
    pub(super) fn open_session(
        &self,
        cookies: Option<&HeaderValue>,
        proof: Proof,
    ) -> std::io::Result<Opened> {
        let mut sessions = self.lock_sessions();
        let existing = self
            .session_by_cookie(&sessions, cookies)
            .map(|s| s.cookie.clone());
        let existing = existing.and_then(|cookie| sessions.iter_mut().find(|s| s.cookie == cookie));
        let (cookie, socket_key) = match existing {
            Some(session) => {
                if !session
                    .proofs
                    .iter()
                    .any(|p| p.credential == proof.credential)
                {
                    session.proofs.push(proof);
                }
                (session.cookie.clone(), session.socket_key.clone())
            }
            None => {
                let session = Session {
                    cookie: secret::token()?,
                    socket_key: secret::token()?,
                    proofs: vec![proof],
                };
                let opened = (session.cookie.clone(), session.socket_key.clone());
                if sessions.len() >= MAX_SESSIONS {
                    sessions.pop_front();
                }
                sessions.push_back(session);
                opened
            }
        };
        Ok(Opened {
            set_cookie: format!(
                "{}={cookie}; HttpOnly; SameSite=Strict; Path=/",
                self.cookie_name
            ),
            socket_key,
        })
    }

    /// The token of the window labelled `label`, minted on first use. `None`
    /// when the server requires no token (any connection may then say its
    /// label), or when it has minted as many window tokens as it may.
    pub(super) fn window_token(&self, label: &str) -> std::io::Result<Option<String>> {
        if !self.requires_token() {
            return Ok(None);
        }
        let mut windows = self.lock_windows();
        if let Some((token, _)) = windows.iter().find(|(_, l)| &**l == label) {
            return Ok(Some(token.clone()));
        }
        if windows.len() >= MAX_WINDOWS {
            return Ok(None);
        }
        let token = secret::token()?;
        windows.push((token.clone(), Arc::from(label)));
        Ok(Some(token))
    }

    /// Takes a connection slot if fewer than `max` are taken.
    pub(super) fn try_admit(&self, max: usize) -> bool {
        self.open
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |open| {
                (open < max).then_some(open + 1)
            })
            .is_ok()
    }

    pub(super) fn release(&self) {
        self.open.fetch_sub(1, Ordering::AcqRel);
    }

    fn lock_windows(&self) -> MutexGuard<'_, Vec<(String, Arc<str>)>> {
        self.windows.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn lock_sessions(&self) -> MutexGuard<'_, VecDeque<Session>> {
        self.sessions.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A session opened (or added to) by a page opened with a token.
pub(super) struct Opened {
    /// The `Set-Cookie` header value.
    pub(super) set_cookie: String,
    /// The key the page's client opens the WebSocket with.
    pub(super) socket_key: String,
}

/// The session whose secret (`secret_of`) is `presented`, every session
/// compared in constant time.
fn find_session<'s>(
    sessions: &'s VecDeque<Session>,
    secret_of: impl Fn(&Session) -> &String,
    presented: &str,
) -> Option<&'s Session> {
    let mut found = None;
    for session in sessions {
        if secret::same(secret_of(session).as_bytes(), presented.as_bytes()) {
            found = Some(session);
        }
    }
    found
}

/// Whether `label` may be a window's label: 1 to 128 ASCII letters, digits
/// and `-` `_` `:` `/` `.` (safe in a URL's query and in logs).
pub(super) fn valid_label(label: &str) -> bool {
    (1..=128).contains(&label.len())
        && label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b':' | b'/' | b'.'))
}

/// The value of cookie `name` in a `Cookie` header.
fn cookie<'a>(header: &'a HeaderValue, name: &str) -> Option<&'a str> {
    header.to_str().ok()?.split(';').find_map(|pair| {
        let (key, value) = pair.trim().split_once('=')?;
        (key == name).then_some(value)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn access(launch: Option<&str>) -> Access {
        Access::new(
            AccessConfig {
                launch: launch.map(str::to_owned),
                grants: vec!["a-grant-token-long-enough-to-matter".into()],
                extra_hosts: vec!["app.localhost:8080".into()],
                extra_origins: vec!["https://app.example".into()],
                any_origin: false,
            },
            "127.0.0.1:8080".parse().unwrap(),
        )
    }

    fn header(value: &str) -> HeaderValue {
        HeaderValue::from_str(value).unwrap()
    }

    #[test]
    fn hosts() {
        let a = access(Some("launch"));
        for ok in [
            "127.0.0.1:8080",
            "localhost:8080",
            "LOCALHOST:8080",
            "[::1]:8080",
            "app.localhost:8080",
        ] {
            assert!(a.host_allowed(Some(&header(ok))), "{ok}");
        }
        for bad in [
            "evil.example:8080",
            "127.0.0.1:8081",
            "127.0.0.1",
            "localhost",
        ] {
            assert!(!a.host_allowed(Some(&header(bad))), "{bad}");
        }
        assert!(!a.host_allowed(None), "HTTP/1.1 requires a Host");
    }

    #[test]
    fn origins() {
        let a = access(Some("launch"));
        assert!(
            a.origin_allowed(Origin::Absent),
            "non-browser clients are judged by the token"
        );
        assert!(a.origin_allowed(Origin::Page("http://127.0.0.1:8080")));
        assert!(a.origin_allowed(Origin::Page("http://localhost:8080")));
        assert!(a.origin_allowed(Origin::Page("https://app.example")));
        assert!(!a.origin_allowed(Origin::Page("http://127.0.0.1:8081")));
        assert!(!a.origin_allowed(Origin::Page("null")));
        let non_ascii = HeaderValue::from_bytes("http://\u{e9}vil".as_bytes()).unwrap();
        assert_eq!(Origin::of(Some(&non_ascii)), Origin::Malformed);
        assert!(
            !a.origin_allowed(Origin::Malformed),
            "a malformed Origin is not an absent one"
        );
    }

    #[test]
    fn tokens_windows_and_grants() {
        let a = access(Some("launch"));
        assert_eq!(a.by_token("launch").unwrap().credential, Credential::Launch);
        assert_eq!(
            a.by_token("a-grant-token-long-enough-to-matter")
                .unwrap()
                .credential,
            Credential::Grant
        );
        assert!(a.by_token("launc").is_none() && a.by_token("").is_none());
        let settings = a.window_token("settings").unwrap().unwrap();
        assert_eq!(
            a.window_token("settings").unwrap().unwrap(),
            settings,
            "one per label"
        );
        let proof = a.by_token(&settings).unwrap();
        assert_eq!(proof.label().as_deref(), Some("settings"));
        assert!(
            a.by_token("launch").unwrap().label().is_none(),
            "the launch token binds no label"
        );
        let open = access(None);
        assert_eq!(
            open.by_token("anything").unwrap().credential,
            Credential::Open
        );
        assert!(open.window_token("x").unwrap().is_none());
    }

    #[test]
    fn sessions_stand_for_their_tokens_and_only_the_key_opens_a_socket() {
        let a = access(Some("launch"));
        let main = a.window_token("main").unwrap().unwrap();
        let opened = a.open_session(None, a.by_token(&main).unwrap()).unwrap();
        let set = &opened.set_cookie;
        assert!(
            set.starts_with("ipc-session-8080=")
                && set.contains("HttpOnly")
                && set.contains("SameSite=Strict")
        );
        let value = set.split(';').next().unwrap();
        let cookie_value = value.split_once('=').unwrap().1;
        let key = opened.socket_key.clone();
        for secret in [cookie_value, key.as_str()] {
            assert!(secret != main && secret != "launch", "not the token");
        }
        assert_ne!(cookie_value, key, "the cookie is not the socket key");

        // The cookie loads pages; only the key opens a socket.
        let request = header(&format!("other=1; {value}; more=2"));
        assert!(a.by_cookie(Some(&request)));
        let socket = |key: Option<&str>, label: Option<&str>| a.authenticate(None, key, label);
        assert_eq!(socket(None, None).unwrap_err(), Refused::NoSession);
        assert_eq!(
            socket(Some(cookie_value), None).unwrap_err(),
            Refused::NoSession,
            "the cookie's value is no key"
        );
        assert_eq!(
            socket(Some(&key), Some("main")).unwrap().label().as_deref(),
            Some("main")
        );
        assert_eq!(
            socket(Some(&key), None).unwrap().label().as_deref(),
            Some("main")
        );
        assert_eq!(
            socket(Some(&key), Some("settings")).unwrap_err(),
            Refused::NotYourWindow,
            "a label this browser was not given"
        );

        // The same browser opens a second window's address, then the launch one.
        let settings = a.window_token("settings").unwrap().unwrap();
        let again = a
            .open_session(Some(&request), a.by_token(&settings).unwrap())
            .unwrap();
        assert_eq!(
            again.set_cookie.split(';').next().unwrap(),
            value,
            "one session per browser"
        );
        assert_eq!(again.socket_key, key);
        a.open_session(Some(&request), a.by_token("launch").unwrap())
            .unwrap();
        assert_eq!(
            socket(Some(&key), Some("settings"))
                .unwrap()
                .label()
                .as_deref(),
            Some("settings")
        );
        assert_eq!(
            socket(Some(&key), Some("main")).unwrap().label().as_deref(),
            Some("main")
        );
        assert_eq!(
            socket(Some(&key), None).unwrap().credential,
            Credential::Launch
        );

        assert!(!a.by_cookie(Some(&header("ipc-session-8080=forged"))));
        assert!(!a.by_cookie(Some(&header(&format!("ipc-session-9090={cookie_value}")))));
        assert!(!a.by_cookie(None));
        assert_eq!(
            socket(Some("forged"), None).unwrap_err(),
            Refused::NoSession
        );
        assert_eq!(
            a.authenticate(Some("launch"), None, None)
                .unwrap()
                .credential,
            Credential::Launch,
            "a token needs no session"
        );
    }

    #[test]
    fn the_connection_limit_holds_and_frees() {
        let a = access(None);
        assert!(a.try_admit(2) && a.try_admit(2));
        assert!(!a.try_admit(2));
        a.release();
        assert!(a.try_admit(2));
    }
}
