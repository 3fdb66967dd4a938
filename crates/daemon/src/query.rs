//! Query strings as dockerd reads them.

use std::collections::BTreeMap;

use crate::error::ApiError;

/// Parsed query parameters (every value of every key, in order).
#[derive(Debug, Default, Clone)]
pub struct Query {
    pairs: Vec<(String, String)>,
}

impl Query {
    /// Parse a raw query string.
    pub fn parse(raw: Option<&str>) -> Query {
        let pairs = raw
            .map(|q| {
                url::form_urlencoded::parse(q.as_bytes())
                    .map(|(k, v)| (k.into_owned(), v.into_owned()))
                    .collect()
            })
            .unwrap_or_default();
        Query { pairs }
    }

    /// First value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// All values of `key`.
    pub fn all(&self, key: &str) -> Vec<String> {
        self.pairs
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// Docker's boolean: anything but "", "0", "no", "false", "none" is true.
    pub fn bool(&self, key: &str) -> bool {
        match self.get(key) {
            None => false,
            Some(v) => {
                let v = v.trim().to_ascii_lowercase();
                !(v.is_empty() || v == "0" || v == "no" || v == "false" || v == "none")
            }
        }
    }

    /// An integer parameter (absent or empty: None; invalid: 400).
    pub fn int(&self, key: &str) -> Result<Option<i64>, ApiError> {
        match self.get(key).map(str::trim) {
            None | Some("") => Ok(None),
            Some(v) => v.parse::<i64>().map(Some).map_err(|_| {
                ApiError::bad_request(format!(
                    "invalid value for {key}: strconv.Atoi: parsing {v:?}: invalid syntax"
                ))
            }),
        }
    }

    /// The `filters` parameter: `{"key":["v"]}` or the legacy `{"key":{"v":true}}`.
    pub fn filters(&self) -> Result<BTreeMap<String, Vec<String>>, ApiError> {
        let raw = match self.get("filters") {
            None => return Ok(BTreeMap::new()),
            Some(r) if r.trim().is_empty() => return Ok(BTreeMap::new()),
            Some(r) => r,
        };
        let value: serde_json::Value = serde_json::from_str(raw)
            .map_err(|e| ApiError::bad_request(format!("invalid filter: {e}")))?;
        let obj = value
            .as_object()
            .ok_or_else(|| ApiError::bad_request("invalid filter: expected a JSON object"))?;
        let mut out = BTreeMap::new();
        for (k, v) in obj {
            let vals: Vec<String> = match v {
                serde_json::Value::Array(a) => a
                    .iter()
                    .map(|x| {
                        x.as_str().map(str::to_string).ok_or_else(|| {
                            ApiError::bad_request("invalid filter: values must be strings")
                        })
                    })
                    .collect::<Result<_, _>>()?,
                serde_json::Value::Object(m) => m
                    .iter()
                    .filter(|(_, b)| b.as_bool().unwrap_or(false))
                    .map(|(k, _)| k.clone())
                    .collect(),
                _ => return Err(ApiError::bad_request("invalid filter: bad value")),
            };
            out.insert(k.clone(), vals);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bools_like_docker() {
        let q = Query::parse(Some("a=1&b=false&c=True&d=&e=no&f=none"));
        assert!(q.bool("a"));
        assert!(!q.bool("b"));
        assert!(q.bool("c"));
        assert!(!q.bool("d"));
        assert!(!q.bool("e"));
        assert!(!q.bool("f"));
        assert!(!q.bool("missing"));
    }

    #[test]
    fn ints_and_filters() {
        let q = Query::parse(Some("t=5&bad=x&filters=%7B%22name%22%3A%5B%22web%22%5D%7D"));
        assert_eq!(q.int("t").unwrap(), Some(5));
        assert!(q.int("bad").is_err());
        assert_eq!(q.filters().unwrap()["name"], vec!["web"]);
        let q = Query::parse(Some(
            "filters=%7B%22status%22%3A%7B%22exited%22%3Atrue%7D%7D",
        ));
        assert_eq!(q.filters().unwrap()["status"], vec!["exited"]);
        let q = Query::parse(Some("filters=notjson"));
        assert!(q.filters().is_err());
        let q = Query::parse(Some("x=99999999999999999999999"));
        assert!(q.int("x").is_err());
    }
}
