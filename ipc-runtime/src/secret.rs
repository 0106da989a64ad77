//! Per-launch secrets: generating them and comparing them in constant time.

use subtle::ConstantTimeEq;

/// The shortest fixed token accepted: 128 bits written as URL-safe base64
/// (22 characters; 32 as hex). Random tokens are 256 bits.
pub(crate) const MIN_TOKEN_LEN: usize = 22;

/// Whether a token chosen by the application is long enough to be a secret.
pub(crate) fn long_enough(token: &str) -> bool {
    token.len() >= MIN_TOKEN_LEN
}

/// Shows a secret in `Debug` output without revealing it.
pub(crate) struct Redacted<'a>(pub(crate) Option<&'a str>);

impl std::fmt::Debug for Redacted<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(_) => f.write_str("Some(\"<redacted>\")"),
            None => f.write_str("None"),
        }
    }
}

/// Whether `a` and `b` are equal, in time that depends only on their lengths
/// (so a guesser learns nothing from how long a wrong guess takes).
pub(crate) fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// A fresh random token: 32 bytes from the OS, as 64 hex digits (URL-safe).
#[cfg(any(feature = "ws", test))]
pub(crate) fn token() -> std::io::Result<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| std::io::Error::other(e.to_string()))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_random_and_hex() {
        let a = token().unwrap();
        let b = token().unwrap();
        assert_eq!(a.len(), 64);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }

    #[test]
    fn redacted_secrets_say_only_whether_they_are_there() {
        assert_eq!(
            format!("{:?}", Redacted(Some("hunter2"))),
            r#"Some("<redacted>")"#
        );
        assert_eq!(format!("{:?}", Redacted(None)), "None");
        assert!(!long_enough("hunter2") && long_enough(&token().unwrap()));
    }

    #[test]
    fn comparison() {
        assert!(same(b"abc", b"abc"));
        assert!(!same(b"abc", b"abd"));
        assert!(!same(b"abc", b"abcd"));
        assert!(same(b"", b""));
    }
}
