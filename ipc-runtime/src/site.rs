//! [`Site`]: where a `#[command]`, `#[listen]` or `#[event]` was written, for
//! build errors and introspection.

use std::fmt;

/// Where a command, listener or declared event was defined: filled in by the
/// macros from `module_path!()`, `file!()` and `line!()`.
///
/// It appears in [`BuildError`](crate::BuildError) (a duplicate command names
/// both sites) and in [`CommandInfo::site`](crate::CommandInfo::site).
///
/// ```rust,standalone_crate
/// use ipc_runtime::Site;
///
/// let site = Site { module_path: "my_app::todos", file: "src/todos.rs", line: 12 };
/// assert_eq!(site.to_string(), "src/todos.rs:12 (my_app::todos)");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Site {
    /// `module_path!()` of the definition.
    pub module_path: &'static str,
    /// `file!()`.
    pub file: &'static str,
    /// `line!()`.
    pub line: u32,
}

impl Site {
    /// The module that defines the item.
    pub fn module_path(&self) -> &'static str {
        self.module_path
    }

    /// The source file.
    pub fn file(&self) -> &'static str {
        self.file
    }

    /// The line of the item.
    pub fn line(&self) -> u32 {
        self.line
    }
}

impl fmt::Display for Site {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{} ({})", self.file, self.line, self.module_path)
    }
}

impl fmt::Debug for Site {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}
