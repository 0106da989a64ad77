//! [`State<T>`]: managed state as an injected argument.

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;

use super::CommandArg;
use crate::error::InvokeError;
use crate::invoke::InvokeContext;

/// A value managed by the [`App`](crate::App), injected into commands and
/// listeners. Put it in with [`AppBuilder::manage`](crate::AppBuilder::manage).
///
/// Shared by every call, so it is `Send + Sync`; use interior mutability
/// (`Mutex`, atomics) to change it.
///
/// ```rust,standalone_crate
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use ipc_runtime::{App, State, command};
///
/// #[derive(Default)]
/// struct Hits(AtomicU64);
///
/// #[command]
/// fn hit(hits: State<Hits>) -> u64 {
///     hits.0.fetch_add(1, Ordering::Relaxed) + 1
/// }
///
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let app = App::builder().manage(Hits::default()).build().unwrap();
/// app.invoke("hit", serde_json::json!({})).await.unwrap();
/// assert_eq!(app.invoke("hit", serde_json::json!({})).await.unwrap(), 2);
/// # }
/// ```
///
/// Asking for a type that was never managed fails the call with an internal
/// error (-32603) that names the type.
pub struct State<T: Send + Sync + 'static>(Arc<T>);

impl<T: Send + Sync + 'static> State<T> {
    /// The shared value as an `Arc`.
    pub fn into_arc(self) -> Arc<T> {
        self.0
    }

    /// A reference to the value (also available through `Deref`).
    pub fn inner(&self) -> &T {
        &self.0
    }

    pub(crate) fn from_arc(value: Arc<T>) -> Self {
        State(value)
    }
}

impl<T: Send + Sync + 'static> Deref for State<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: Send + Sync + 'static> Clone for State<T> {
    fn clone(&self) -> Self {
        State(Arc::clone(&self.0))
    }
}

impl<T: Send + Sync + fmt::Debug + 'static> fmt::Debug for State<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("State").field(&*self.0).finish()
    }
}

impl<T: Send + Sync + 'static> CommandArg for State<T> {
    fn from_invoke(cx: &InvokeContext<'_>) -> Result<Self, InvokeError> {
        cx.state::<T>().ok_or_else(|| {
            InvokeError::internal(format!(
                "state of type `{}` is not managed; add it with App::builder().manage(...)",
                std::any::type_name::<T>()
            ))
        })
    }
}
