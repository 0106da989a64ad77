//! Capabilities: what a caller may invoke, listen to and emit.
//!
//! A [`Capability`] is a named set of patterns (exact names, or with `*`
//! matching any run of characters: `todos.*`, `*`) for each of the three
//! actions. Connections are granted capabilities by the origin of the page they
//! come from, by the token they present, or by the application's own callback;
//! a connection may do what the union of its capabilities allows.
//!
//! ```rust,standalone_crate
//! use ipc_runtime::{App, Capability, codes, command};
//!
//! #[command(rename = "todos.list")]
//! fn list() -> Vec<String> { vec![] }
//!
//! #[command(rename = "admin.wipe")]
//! fn wipe() {}
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let app = App::builder()
//!     .capability(Capability::new("viewer").allow_invoke(["todos.*"]).allow_listen(["todos:*"]))
//!     .capability(Capability::new("admin").allow_all())
//!     .grant_origin("http://127.0.0.1:5173", "viewer")
//!     .grant_token("correct-horse-battery-staple", "admin")
//!     .build()
//!     .unwrap();
//! // The ACL is testable without a socket:
//! assert!(app.invoke_with("viewer", "todos.list", serde_json::json!({})).await.is_ok());
//! let refused = app.invoke_with("viewer", "admin.wipe", serde_json::json!({})).await.unwrap_err();
//! assert_eq!(refused.code(), codes::FORBIDDEN);
//! # }
//! ```
//!
//! With no capability configured the app is open: every connection may do
//! everything (convenient while developing). Once any capability, grant or
//! [`deny_by_default`](crate::AppBuilder::deny_by_default) is configured, a
//! connection that nothing grants anything gets the default capability if one
//! is set, and otherwise may do nothing. The backend itself (in-process
//! [`App::invoke`](crate::App::invoke), events emitted from Rust) is never restricted.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use crate::error::BuildError;

/// A named set of allowed commands and events. See the [module docs](self).
#[derive(Clone, Debug)]
pub struct Capability {
    name: String,
    rules: Rules,
}

#[derive(Clone, Debug, Default)]
struct Rules {
    invoke: Vec<Pattern>,
    listen: Vec<Pattern>,
    emit: Vec<Pattern>,
    /// May watch every connection's traffic (the inspector's feed).
    inspect: bool,
}

impl Capability {
    /// An empty capability (it allows nothing yet).
    pub fn new(name: impl Into<String>) -> Self {
        Capability {
            name: name.into(),
            rules: Rules::default(),
        }
    }

    /// Allows invoking the commands matching these patterns (which also covers
    /// the channels those commands open to the caller).
    #[must_use]
    pub fn allow_invoke<I, S>(mut self, patterns: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.rules
            .invoke
            .extend(patterns.into_iter().map(Pattern::new));
        self
    }

    /// Allows subscribing to the events matching these patterns.
    #[must_use]
    pub fn allow_listen<I, S>(mut self, patterns: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.rules
            .listen
            .extend(patterns.into_iter().map(Pattern::new));
        self
    }

    /// Allows emitting the events matching these patterns.
    #[must_use]
    pub fn allow_emit<I, S>(mut self, patterns: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.rules
            .emit
            .extend(patterns.into_iter().map(Pattern::new));
        self
    }

    /// Allows watching the app's traffic: the live inspector's feed
    /// (`/ipc/inspect`: every connection's calls with their params and
    /// results, events, connections). No name pattern grants this, not even
    /// `*` (nor [`allow_all`](Self::allow_all)): it shows other clients' data.
    ///
    /// ```
    /// use ipc_runtime::Capability;
    /// use ipc_runtime::capability::Permissions;
    ///
    /// let devtools = Capability::new("inspect").allow_inspect();
    /// let admin = Capability::new("admin").allow_all();
    /// assert!(Permissions::from_capabilities(&[&devtools]).may_inspect());
    /// assert!(!Permissions::from_capabilities(&[&admin]).may_inspect());
    /// ```
    #[must_use]
    pub fn allow_inspect(mut self) -> Self {
        self.rules.inspect = true;
        self
    }

    /// Allows every command and event (not inspecting others' traffic: see
    /// [`allow_inspect`](Self::allow_inspect)).
    #[must_use]
    pub fn allow_all(self) -> Self {
        self.allow_invoke(["*"])
            .allow_listen(["*"])
            .allow_emit(["*"])
    }

    /// The capability's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

/// A name pattern: `*` matches any run of characters (including none).
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Pattern(String);

impl Pattern {
    pub(crate) fn new(pattern: impl Into<String>) -> Self {
        Pattern(pattern.into())
    }

    pub(crate) fn matches(&self, name: &str) -> bool {
        glob(self.0.as_bytes(), name.as_bytes())
    }
}

impl fmt::Debug for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

/// `*`-only glob matching, iterative (no recursion, linear backtracking).
fn glob(pattern: &[u8], name: &[u8]) -> bool {
    let (mut p, mut n) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() {
        if p < pattern.len() && pattern[p] == b'*' {
            star = Some((p, n));
            p += 1;
        } else if p < pattern.len() && pattern[p] == name[n] {
            p += 1;
            n += 1;
        } else if let Some((star_p, star_n)) = star {
            p = star_p + 1;
            n = star_n + 1;
            star = Some((star_p, star_n + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

/// What one action is allowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// Calling a command.
    Invoke,
    /// Subscribing to an event.
    Listen,
    /// Emitting an event.
    Emit,
    /// Watching the app's traffic (the inspector; the name is not used).
    Inspect,
}

impl Action {
    /// `"invoke"`, `"listen"`, `"emit"` or `"inspect"`, as in refusals' `data.kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Invoke => "invoke",
            Action::Listen => "listen",
            Action::Emit => "emit",
            Action::Inspect => "inspect",
        }
    }
}

/// What a caller may do: the union of the capabilities it was granted, or
/// everything (the backend, and apps with no capabilities configured).
///
/// ```
/// use ipc_runtime::capability::{Action, Permissions};
///
/// assert!(Permissions::all().allows(Action::Invoke, "anything"));
/// assert!(!Permissions::none().allows(Action::Emit, "anything"));
/// ```
#[derive(Clone)]
pub struct Permissions(Arc<Granted>);

enum Granted {
    All,
    Only { names: Vec<String>, rules: Rules },
}

impl Permissions {
    /// Everything is allowed.
    pub fn all() -> Self {
        Permissions(Arc::new(Granted::All))
    }

    /// Nothing is allowed.
    pub fn none() -> Self {
        Self::only(&[])
    }

    /// The union of these capabilities.
    pub fn from_capabilities(capabilities: &[&Capability]) -> Self {
        Self::only(capabilities)
    }

    fn only(capabilities: &[&Capability]) -> Self {
        let mut rules = Rules::default();
        for capability in capabilities {
            rules.invoke.extend(capability.rules.invoke.iter().cloned());
            rules.listen.extend(capability.rules.listen.iter().cloned());
            rules.emit.extend(capability.rules.emit.iter().cloned());
            rules.inspect |= capability.rules.inspect;
        }
        Permissions(Arc::new(Granted::Only {
            names: capabilities.iter().map(|c| c.name.clone()).collect(),
            rules,
        }))
    }

    /// Whether `action` on `name` is allowed.
    pub fn allows(&self, action: Action, name: &str) -> bool {
        match &*self.0 {
            Granted::All => true,
            Granted::Only { rules, .. } => {
                let patterns = match action {
                    Action::Invoke => &rules.invoke,
                    Action::Listen => &rules.listen,
                    Action::Emit => &rules.emit,
                    Action::Inspect => return rules.inspect,
                };
                patterns.iter().any(|p| p.matches(name))
            }
        }
    }

    /// Whether the caller may watch the app's traffic (the inspector): when
    /// unrestricted (the backend, the launch token of an app with no
    /// capabilities), or granted a capability with
    /// [`allow_inspect`](Capability::allow_inspect).
    pub fn may_inspect(&self) -> bool {
        self.allows(Action::Inspect, "")
    }

    /// Whether everything is allowed.
    pub fn is_unrestricted(&self) -> bool {
        matches!(*self.0, Granted::All)
    }

    /// The names of the capabilities granted (empty when unrestricted).
    pub fn capabilities(&self) -> &[String] {
        match &*self.0 {
            Granted::All => &[],
            Granted::Only { names, .. } => names,
        }
    }
}

impl fmt::Debug for Permissions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &*self.0 {
            Granted::All => f.write_str("Permissions(all)"),
            Granted::Only { names, .. } => f.debug_tuple("Permissions").field(names).finish(),
        }
    }
}

/// What a connection presented, for deciding its capabilities, and how far
/// each part can be trusted.
///
/// * `token` was checked by the transport before the connection opened: it is
///   the server's launch token, a window's token, or one given to
///   [`grant_token`](crate::AppBuilder::grant_token) (or absent when the server
///   requires none). Trustworthy.
/// * `label` is bound by the server, never taken from the client: the
///   WebSocket server gives one only to connections that present a window's
///   token ([`ServerHandle::window_url`](crate::transport::ws::ServerHandle::window_url)).
///   Trustworthy.
/// * `origin` is what the client's `Origin` header says. Browsers cannot lie
///   about it, but any other program can send what it likes, so it is offered
///   only to connections that authenticated as the app's own pages (launch or
///   window token, or the session key their page was given), never alongside a token scoped by
///   `grant_token`: such a token gets exactly its capabilities. Use it to tell
///   your pages apart, not as a credential on its own.
#[derive(Clone, Copy)]
pub struct ConnectionInfo<'a> {
    /// The `Origin` header (browsers always send one).
    pub origin: Option<&'a str>,
    /// The token the connection authenticated with.
    pub token: Option<&'a str>,
    /// The label the server bound to the connection.
    pub label: Option<&'a str>,
}

impl fmt::Debug for ConnectionInfo<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectionInfo")
            .field("origin", &self.origin)
            .field("token", &crate::secret::Redacted(self.token))
            .field("label", &self.label)
            .finish()
    }
}

/// The application's own rule: the capability names to grant a connection.
pub type GrantFn = dyn Fn(&ConnectionInfo<'_>) -> Vec<String> + Send + Sync;

/// The access-control configuration, built by the [`AppBuilder`](crate::AppBuilder).
#[derive(Default)]
pub(crate) struct Acl {
    capabilities: HashMap<String, Capability>,
    by_origin: Vec<(String, String)>,
    by_token: Vec<(String, String)>,
    callbacks: Vec<Arc<GrantFn>>,
    default: Option<String>,
    deny_by_default: bool,
}

impl Acl {
    pub(crate) fn add(&mut self, capability: Capability) {
        self.capabilities
            .insert(capability.name.clone(), capability);
    }

    pub(crate) fn grant_origin(&mut self, origin: String, capability: String) {
        self.by_origin.push((origin, capability));
    }

    pub(crate) fn grant_token(&mut self, token: String, capability: String) {
        self.by_token.push((token, capability));
    }

    pub(crate) fn grant_with(&mut self, callback: Arc<GrantFn>) {
        self.callbacks.push(callback);
    }

    pub(crate) fn set_default(&mut self, capability: String) {
        self.default = Some(capability);
    }

    pub(crate) fn deny_by_default(&mut self) {
        self.deny_by_default = true;
    }

    /// Whether anything is configured (otherwise every connection may do everything).
    fn is_open(&self) -> bool {
        self.capabilities.is_empty()
            && self.by_origin.is_empty()
            && self.by_token.is_empty()
            && self.callbacks.is_empty()
            && self.default.is_none()
            && !self.deny_by_default
    }

    /// Every grant names a capability that exists, and every grant token is
    /// long enough to be a secret.
    pub(crate) fn check(&self) -> Result<(), BuildError> {
        for (token, capability) in &self.by_token {
            if !crate::secret::long_enough(token) {
                return Err(BuildError::WeakToken {
                    capability: capability.clone(),
                    len: token.len(),
                });
            }
        }
        let named = self
            .by_origin
            .iter()
            .chain(&self.by_token)
            .map(|(_, capability)| capability)
            .chain(&self.default);
        for name in named {
            if !self.capabilities.contains_key(name) {
                return Err(BuildError::UnknownCapability { name: name.clone() });
            }
        }
        Ok(())
    }

    /// The tokens that grant something (a connection may present one instead
    /// of the server's launch token).
    #[cfg(feature = "ws")]
    pub(crate) fn grant_tokens(&self) -> impl Iterator<Item = &str> {
        self.by_token.iter().map(|(token, _)| token.as_str())
    }

    /// The permissions of a connection that presented `info`.
    pub(crate) fn resolve(&self, info: &ConnectionInfo<'_>) -> Permissions {
        if self.is_open() {
            return Permissions::all();
        }
        let mut names: Vec<String> = Vec::new();
        if let Some(token) = info.token {
            names.extend(
                self.by_token
                    .iter()
                    .filter(|(t, _)| crate::secret::same(t.as_bytes(), token.as_bytes()))
                    .map(|(_, c)| c.clone()),
            );
        }
        // A scoped token gets its capabilities and no more: an `Origin` header
        // is anyone's to write outside a browser.
        let scoped = !names.is_empty();
        if let Some(origin) = info.origin.filter(|_| !scoped) {
            names.extend(
                self.by_origin
                    .iter()
                    .filter(|(o, _)| o == origin)
                    .map(|(_, c)| c.clone()),
            );
        }
        // Nor does a callback see the Origin of a scoped token's connection.
        let seen = ConnectionInfo {
            origin: info.origin.filter(|_| !scoped),
            ..*info
        };
        for callback in &self.callbacks {
            names.extend(callback(&seen));
        }
        if names.is_empty()
            && let Some(default) = &self.default
        {
            names.push(default.clone());
        }
        names.sort();
        names.dedup();
        let granted: Vec<&Capability> = names
            .iter()
            .filter_map(|name| {
                let found = self.capabilities.get(name);
                if found.is_none() {
                    tracing::warn!(capability = %name, "a grant callback named an unknown capability");
                }
                found
            })
            .collect();
        Permissions::only(&granted)
    }

    /// The permissions a transport grants its peer by name. While no ACL is
    /// configured every peer may do everything; a name that matches no
    /// capability grants nothing (and is logged).
    pub(crate) fn vouched(&self, name: &str) -> Permissions {
        if self.is_open() {
            return Permissions::all();
        }
        self.named(name).unwrap_or_else(|| {
            tracing::error!(
                capability = name,
                "a transport granted an unknown capability; the peer may do nothing"
            );
            Permissions::none()
        })
    }

    /// The permissions of the named capability, for in-process calls.
    pub(crate) fn named(&self, name: &str) -> Option<Permissions> {
        self.capabilities.get(name).map(|c| Permissions::only(&[c]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ADMIN: &str = "an-admin-token-long-enough-to-be-a-secret";

    #[test]
    fn glob_patterns() {
        let m = |p: &str, n: &str| Pattern::new(p).matches(n);
        assert!(m("todos.add", "todos.add"));
        assert!(!m("todos.add", "todos.addx"));
        assert!(m("todos.*", "todos.add"));
        assert!(m("todos.*", "todos."));
        assert!(!m("todos.*", "todos"));
        assert!(!m("todos.*", "admin.todos.add"));
        assert!(m("*", ""));
        assert!(m("*.get", "user.get"));
        assert!(m("a*b*c", "axxbyyc"));
        assert!(!m("a*b*c", "axxbyy"));
        assert!(m("**", "anything"));
        // Backtracking stays linear on adversarial input.
        let long = "a".repeat(10_000);
        assert!(!m("*a*a*a*a*a*b", &long));
    }

    #[test]
    fn permissions_union_and_actions_are_separate() {
        let read = Capability::new("read")
            .allow_invoke(["get.*"])
            .allow_listen(["news"]);
        let write = Capability::new("write")
            .allow_invoke(["set.*"])
            .allow_emit(["chat"]);
        let both = Permissions::only(&[&read, &write]);
        assert!(both.allows(Action::Invoke, "get.x") && both.allows(Action::Invoke, "set.x"));
        assert!(both.allows(Action::Listen, "news") && !both.allows(Action::Listen, "chat"));
        assert!(both.allows(Action::Emit, "chat") && !both.allows(Action::Emit, "news"));
        assert_eq!(both.capabilities(), ["read", "write"]);
    }

    #[test]
    fn resolution_by_origin_token_callback_and_default() {
        let mut acl = Acl::default();
        assert!(
            acl.resolve(&info(None, None)).is_unrestricted(),
            "open until configured"
        );
        acl.add(Capability::new("page").allow_invoke(["page.*"]));
        acl.add(Capability::new("admin").allow_all());
        acl.add(Capability::new("guest").allow_invoke(["hello"]));
        acl.grant_origin("http://app".into(), "page".into());
        acl.grant_token(ADMIN.into(), "admin".into());
        acl.grant_with(Arc::new(|i: &ConnectionInfo<'_>| {
            if i.label == Some("tools") {
                vec!["admin".into()]
            } else {
                vec![]
            }
        }));
        acl.check().unwrap();

        let page = acl.resolve(&info(Some("http://app"), None));
        assert_eq!(page.capabilities(), ["page"]);
        let nobody = acl.resolve(&info(Some("http://evil"), Some("wrong")));
        assert!(
            !nobody.allows(Action::Invoke, "hello"),
            "configured ACL denies by default"
        );
        let admin = acl.resolve(&info(Some("http://evil"), Some(ADMIN)));
        assert!(admin.allows(Action::Invoke, "admin.wipe"));
        let tools = acl.resolve(&ConnectionInfo {
            origin: None,
            token: None,
            label: Some("tools"),
        });
        assert_eq!(tools.capabilities(), ["admin"]);

        acl.set_default("guest".into());
        assert_eq!(acl.resolve(&info(None, None)).capabilities(), ["guest"]);
        assert_eq!(
            acl.resolve(&info(Some("http://app"), None)).capabilities(),
            ["page"],
            "default only when nothing else grants"
        );
    }

    #[test]
    fn a_vouched_capability_ignores_what_the_peer_presented() {
        let mut acl = Acl::default();
        assert!(
            acl.vouched("anything").is_unrestricted(),
            "open until configured"
        );
        acl.add(Capability::new("sidecar").allow_invoke(["todos.*"]));
        acl.add(Capability::new("admin").allow_all());
        acl.grant_token(ADMIN.into(), "admin".into());
        let sidecar = acl.vouched("sidecar");
        assert_eq!(sidecar.capabilities(), ["sidecar"]);
        assert!(!sidecar.allows(Action::Invoke, "admin.wipe"));
        let ghost = acl.vouched("ghost");
        assert!(!ghost.is_unrestricted() && !ghost.allows(Action::Invoke, "todos.list"));
    }

    #[test]
    fn a_scoped_token_gains_nothing_from_an_origin() {
        let mut acl = Acl::default();
        acl.add(Capability::new("page").allow_invoke(["page.*"]));
        acl.add(Capability::new("reader").allow_invoke(["read"]));
        acl.grant_origin("http://app".into(), "page".into());
        acl.grant_token(
            "a-reader-token-long-enough-to-be-secret".into(),
            "reader".into(),
        );
        let forged = acl.resolve(&info(
            Some("http://app"),
            Some("a-reader-token-long-enough-to-be-secret"),
        ));
        assert_eq!(
            forged.capabilities(),
            ["reader"],
            "not the page's grants too"
        );
        let page = acl.resolve(&info(Some("http://app"), Some("the-launch-token")));
        assert_eq!(
            page.capabilities(),
            ["page"],
            "the app's own pages keep theirs"
        );
    }

    #[test]
    fn grant_tokens_must_be_long_enough_to_be_secrets() {
        let mut acl = Acl::default();
        acl.add(Capability::new("admin").allow_all());
        acl.grant_token("admin-secret".into(), "admin".into());
        let error = acl.check().unwrap_err();
        assert!(
            matches!(error, BuildError::WeakToken { len: 12, .. }),
            "{error}"
        );
    }

    #[test]
    fn tokens_are_redacted_in_debug() {
        let shown = format!("{:?}", info(Some("http://app"), Some(ADMIN)));
        assert!(
            !shown.contains(ADMIN) && shown.contains("redacted"),
            "{shown}"
        );
    }

    #[test]
    fn deny_by_default_without_capabilities_denies_everything() {
        let mut acl = Acl::default();
        acl.deny_by_default();
        let p = acl.resolve(&info(None, None));
        assert!(!p.is_unrestricted() && !p.allows(Action::Invoke, "x"));
    }

    #[test]
    fn grants_must_name_known_capabilities() {
        let mut acl = Acl::default();
        acl.grant_origin("http://x".into(), "ghost".into());
        assert!(matches!(
            acl.check(),
            Err(BuildError::UnknownCapability { .. })
        ));
    }

    fn info<'a>(origin: Option<&'a str>, token: Option<&'a str>) -> ConnectionInfo<'a> {
        ConnectionInfo {
            origin,
            token,
            label: None,
        }
    }
}
