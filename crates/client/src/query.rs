//! Query-string building with Docker's parameter conventions.

use std::collections::BTreeMap;

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

const QUERY: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Percent-encode one query component or path segment.
pub fn encode(s: &str) -> String {
    utf8_percent_encode(s, QUERY).to_string()
}

/// A query string under construction.
#[derive(Debug, Default, Clone)]
pub struct Query {
    parts: Vec<String>,
}

impl Query {
    /// An empty query.
    pub fn new() -> Self {
        Self::default()
    }

    /// Add `key=value`.
    pub fn push(&mut self, key: &str, value: impl AsRef<str>) -> &mut Self {
        self.parts
            .push(format!("{}={}", encode(key), encode(value.as_ref())));
        self
    }

    /// Add `key=1` when `on`.
    pub fn flag(&mut self, key: &str, on: bool) -> &mut Self {
        if on {
            self.push(key, "1");
        }
        self
    }

    /// Add `key=value` when a value is given.
    pub fn opt(&mut self, key: &str, value: Option<impl AsRef<str>>) -> &mut Self {
        if let Some(v) = value {
            self.push(key, v);
        }
        self
    }

    /// Add `filters={"k":{"v":true}}` (the form every API version since
    /// 1.22 accepts) unless there are none.
    pub fn filters(&mut self, filters: &Filters) -> &mut Self {
        if !filters.is_empty() {
            let map: BTreeMap<&String, BTreeMap<&String, bool>> = filters
                .iter()
                .map(|(k, vs)| (k, vs.iter().map(|v| (v, true)).collect()))
                .collect();
            let json = serde_json::to_string(&map).unwrap_or_default();
            self.push("filters", json);
        }
        self
    }

    /// `path` followed by `?query` when not empty.
    pub fn apply(&self, path: &str) -> String {
        if self.parts.is_empty() {
            path.to_string()
        } else {
            format!("{path}?{}", self.parts.join("&"))
        }
    }
}

/// `--filter key=value` pairs grouped by key.
pub type Filters = BTreeMap<String, Vec<String>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_docker_queries() {
        let mut f = Filters::new();
        f.entry("status".into()).or_default().push("exited".into());
        let mut q = Query::new();
        q.flag("all", true)
            .flag("size", false)
            .push("name", "a b/c")
            .filters(&f);
        assert_eq!(
            q.apply("/containers/json"),
            "/containers/json?all=1&name=a%20b%2Fc&filters=%7B%22status%22%3A%7B%22exited%22%3Atrue%7D%7D"
        );
        assert_eq!(Query::new().apply("/x"), "/x");
    }
}
