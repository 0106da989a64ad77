//! [`ConnectOptions`]: what a transport says about a new connection, and its limits.

/// Settings of one connection, set by the transport that opens it.
///
/// `origin` and `token` are what the client presented (the transport has
/// already checked the token); `label` and `capability` are identity the
/// transport itself vouches for, never copied from anything the client sent.
#[derive(Clone)]
#[non_exhaustive]
pub struct ConnectOptions {
    /// The `Origin` the client presented (browsers always send one).
    pub origin: Option<String>,
    /// The connection's label (a window's label), addressed by
    /// `EventTarget::Label` and given to grant callbacks. Bound by the
    /// transport (the WebSocket server takes it from a window's token), never
    /// taken from the client's say-so.
    pub label: Option<String>,
    /// The token the client presented, for capability grants.
    pub token: Option<String>,
    /// A capability the transport itself grants, whatever the client
    /// presented: for transports whose peer is vouched for by how it is
    /// reached (the parent process of a stdio sidecar, a window the app
    /// opened). When set, origin, token and callback grants are not consulted.
    /// Never fill it from anything the client sends.
    pub capability: Option<String>,
    /// Whether the client accepts binary frames (byte results become raw
    /// attachments instead of JSON arrays).
    pub binary: bool,
    /// How many async calls may run at once before `handle_text` waits (default 64).
    pub max_in_flight: usize,
    /// How many outgoing messages may wait for the transport (default 256).
    pub outbox_capacity: usize,
    /// How many bytes of outgoing messages may wait for the transport
    /// (default 4 MiB; one larger message still goes out alone). Events that
    /// do not fit are dropped and reported with `ipc.lagged`; responses and
    /// channel messages wait for room.
    pub outbox_bytes: usize,
    /// The most requests in one batch (default 64).
    pub max_batch: usize,
    /// The most event subscriptions the connection may hold (default 256).
    pub max_subscriptions: usize,
    /// How many calls and emits per second the connection may make (off by
    /// default). Past it, a call is answered with -32006 (`data.retryAfterMs`
    /// says when to try again) and an emit is dropped.
    pub rate_limit: Option<super::RateLimit>,
    /// Bytes of credit each upload is granted ahead of what its command has
    /// read (default 1 MiB): the most the server holds of one upload.
    pub upload_window: u64,
    /// The most bytes one upload may carry (default 4 GiB); a command may set
    /// a lower limit with `Upload::limit`.
    pub max_upload_size: u64,
    /// How many uploads may be open at once (default 8). Keep it below
    /// `max_in_flight`: a command reading an upload holds a call slot.
    pub max_uploads: usize,
}

impl Default for ConnectOptions {
    fn default() -> Self {
        ConnectOptions {
            origin: None,
            label: None,
            token: None,
            capability: None,
            binary: false,
            max_in_flight: 64,
            outbox_capacity: 256,
            outbox_bytes: 4 << 20,
            max_batch: 64,
            max_subscriptions: 256,
            rate_limit: None,
            upload_window: 1 << 20,
            max_upload_size: 4 << 30,
            max_uploads: 8,
        }
    }
}

impl ConnectOptions {
    /// Options with this origin and default limits.
    pub fn with_origin(origin: Option<String>) -> Self {
        ConnectOptions {
            origin,
            ..Self::default()
        }
    }

    /// These options, for a client that accepts binary frames.
    #[must_use]
    pub fn binary(mut self, binary: bool) -> Self {
        self.binary = binary;
        self
    }

    /// These options, with a label.
    #[must_use]
    pub fn label(mut self, label: Option<String>) -> Self {
        self.label = label;
        self
    }

    /// These options, with the token the client presented.
    #[must_use]
    pub fn token(mut self, token: Option<String>) -> Self {
        self.token = token;
        self
    }

    /// These options, with a capability the transport grants (see
    /// [`capability`](Self::capability)).
    #[must_use]
    pub fn capability(mut self, capability: Option<String>) -> Self {
        self.capability = capability;
        self
    }

    /// These options, with another in-flight limit.
    #[must_use]
    pub fn max_in_flight(mut self, calls: usize) -> Self {
        self.max_in_flight = calls;
        self
    }

    /// These options, with another batch limit.
    #[must_use]
    pub fn max_batch(mut self, requests: usize) -> Self {
        self.max_batch = requests;
        self
    }

    /// These options, with another subscription limit.
    #[must_use]
    pub fn max_subscriptions(mut self, subscriptions: usize) -> Self {
        self.max_subscriptions = subscriptions;
        self
    }

    /// These options, with another byte bound on the outbox.
    #[must_use]
    pub fn outbox_bytes(mut self, bytes: usize) -> Self {
        self.outbox_bytes = bytes;
        self
    }

    /// These options, with a rate limit (see [`RateLimit`](super::RateLimit)).
    #[must_use]
    pub fn rate_limit(mut self, limit: Option<super::RateLimit>) -> Self {
        self.rate_limit = limit;
        self
    }

    /// These options, with another upload window (bytes held per upload).
    #[must_use]
    pub fn upload_window(mut self, bytes: u64) -> Self {
        self.upload_window = bytes;
        self
    }

    /// These options, with another upload size limit.
    #[must_use]
    pub fn max_upload_size(mut self, bytes: u64) -> Self {
        self.max_upload_size = bytes;
        self
    }

    /// These options, with another limit on uploads open at once.
    #[must_use]
    pub fn max_uploads(mut self, uploads: usize) -> Self {
        self.max_uploads = uploads;
        self
    }

    /// These options, with another outbox capacity.
    #[must_use]
    pub fn outbox_capacity(mut self, messages: usize) -> Self {
        self.outbox_capacity = messages;
        self
    }
}

impl std::fmt::Debug for ConnectOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectOptions")
            .field("origin", &self.origin)
            .field("label", &self.label)
            .field("token", &crate::secret::Redacted(self.token.as_deref()))
            .field("capability", &self.capability)
            .field("binary", &self.binary)
            .field("max_in_flight", &self.max_in_flight)
            .field("outbox_capacity", &self.outbox_capacity)
            .field("outbox_bytes", &self.outbox_bytes)
            .field("max_batch", &self.max_batch)
            .field("max_subscriptions", &self.max_subscriptions)
            .field("rate_limit", &self.rate_limit)
            .field("upload_window", &self.upload_window)
            .field("max_upload_size", &self.max_upload_size)
            .field("max_uploads", &self.max_uploads)
            .finish()
    }
}
