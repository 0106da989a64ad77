//! [`Window`]: what a native window is opened with.

use std::fmt;

/// A native window to open: its label (its identity for capabilities and
/// [`EventTarget::Label`](crate::EventTarget::Label)), title, size, and the
/// asset its page starts at.
///
/// ```rust
/// use ipc_runtime::transport::desktop::Window;
///
/// let window = Window::new("main").title("Shared todos").size(900, 700).page("/index.html");
/// assert_eq!(window.label(), "main");
/// ```
#[derive(Clone)]
pub struct Window {
    pub(super) label: String,
    pub(super) title: String,
    pub(super) size: (u32, u32),
    pub(super) position: Option<(i32, i32)>,
    pub(super) page: String,
    pub(super) capability: Option<String>,
}

impl Window {
    /// A window labelled `label` (1 to 64 of `A-Z a-z 0-9 - _ : / .`; checked
    /// when it opens), titled with its label, 800×600, showing `/`.
    pub fn new(label: impl Into<String>) -> Self {
        let label = label.into();
        Window {
            title: label.clone(),
            label,
            size: (800, 600),
            position: None,
            page: "/".to_owned(),
            capability: None,
        }
    }

    /// The window's title.
    #[must_use]
    pub fn title(mut self, title: impl Into<String>) -> Self {
        self.title = title.into();
        self
    }

    /// The window's inner size, in logical pixels.
    #[must_use]
    pub fn size(mut self, width: u32, height: u32) -> Self {
        self.size = (width.max(1), height.max(1));
        self
    }

    /// Where the window's top-left corner goes, in logical pixels (default:
    /// where the window manager puts it).
    #[must_use]
    pub fn position(mut self, x: i32, y: i32) -> Self {
        self.position = Some((x, y));
        self
    }

    /// The asset the page starts at (default `/`), with its query if any.
    #[must_use]
    pub fn page(mut self, path: impl Into<String>) -> Self {
        let path = path.into();
        self.page = if path.starts_with('/') {
            path
        } else {
            format!("/{path}")
        };
        self
    }

    /// Grants the window's page this capability (by name, as given to
    /// [`AppBuilder::capability`](crate::AppBuilder::capability)), whatever
    /// else applies: the app opened the window, so it vouches for it. Without
    /// it the page is resolved by its label, through
    /// [`grant_with`](crate::AppBuilder::grant_with) callbacks and the default.
    #[must_use]
    pub fn capability(mut self, name: impl Into<String>) -> Self {
        self.capability = Some(name.into());
        self
    }

    /// The window's label.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// Checks the label (what [`Desktop::run`](super::Desktop::run) and
    /// [`DesktopHandle::open`](super::DesktopHandle::open) refuse).
    pub(super) fn check(&self) -> Result<(), super::DesktopError> {
        let ok = !self.label.is_empty()
            && self.label.len() <= 64
            && self
                .label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_:/.".contains(&b));
        if ok {
            Ok(())
        } else {
            Err(super::DesktopError::BadLabel(self.label.clone()))
        }
    }
}

impl fmt::Debug for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Window")
            .field("label", &self.label)
            .field("title", &self.title)
            .field("size", &self.size)
            .field("position", &self.position)
            .field("page", &self.page)
            .field("capability", &self.capability)
            .finish()
    }
}
