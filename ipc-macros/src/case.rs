//! Argument names on the wire.

/// The `rename_all` rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RenameAll {
    /// `user_id` → `userId` (the default, as in Tauri).
    CamelCase,
    /// Names as written.
    SnakeCase,
}

impl RenameAll {
    pub(crate) const VALUES: &'static str = r#""camelCase" or "snake_case""#;

    pub(crate) fn parse(value: &str) -> Option<Self> {
        match value {
            "camelCase" => Some(RenameAll::CamelCase),
            "snake_case" => Some(RenameAll::SnakeCase),
            _ => None,
        }
    }

    pub(crate) fn apply(self, name: &str) -> String {
        match self {
            RenameAll::SnakeCase => name.to_owned(),
            RenameAll::CamelCase => to_camel_case(name),
        }
    }
}

/// `user_id` → `userId`; `_unused` → `unused`; `already` stays.
fn to_camel_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper_next = false;
    for ch in name.trim_start_matches('_').chars() {
        if ch == '_' {
            upper_next = !out.is_empty();
        } else if upper_next {
            out.extend(ch.to_uppercase());
            upper_next = false;
        } else {
            out.push(ch);
        }
    }
    if out.is_empty() { name.to_owned() } else { out }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn camel_case_follows_tauri() {
        assert_eq!(to_camel_case("user_id"), "userId");
        assert_eq!(to_camel_case("a"), "a");
        assert_eq!(to_camel_case("http_url_v2"), "httpUrlV2");
        assert_eq!(to_camel_case("_unused"), "unused");
        assert_eq!(to_camel_case("trailing_"), "trailing");
        assert_eq!(to_camel_case("double__under"), "doubleUnder");
        assert_eq!(to_camel_case("_"), "_");
    }

    #[test]
    fn snake_case_keeps_names() {
        assert_eq!(RenameAll::SnakeCase.apply("user_id"), "user_id");
        assert_eq!(RenameAll::parse("kebab-case"), None);
    }
}
