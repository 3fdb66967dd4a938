//! An order-preserving JSON value for templates and inspect output:
//! Docker prints objects in the daemon's field order, which
//! `serde_json::Value` (a sorted map without the `preserve_order`
//! feature) would lose.

use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Number;

/// A JSON value whose objects keep their key order.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    /// `null`.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// A number, printed as received.
    Num(Number),
    /// A string.
    Str(String),
    /// An array.
    Arr(Vec<Val>),
    /// An object, in key order.
    Obj(Vec<(String, Val)>),
}

/// Keys starting with this byte are hidden from printing (they back
/// methods such as `.Label "k"`).
pub const HIDDEN: char = '\u{1}';

impl Val {
    /// A string value.
    pub fn s(v: impl Into<String>) -> Val {
        Val::Str(v.into())
    }

    /// Look up an object key.
    pub fn get(&self, key: &str) -> Option<&Val> {
        match self {
            Val::Obj(entries) => entries.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// Go template truthiness.
    pub fn truthy(&self) -> bool {
        match self {
            Val::Null => false,
            Val::Bool(b) => *b,
            Val::Num(n) => n.as_f64().map(|f| f != 0.0).unwrap_or(false),
            Val::Str(s) => !s.is_empty(),
            Val::Arr(a) => !a.is_empty(),
            Val::Obj(o) => !o.is_empty(),
        }
    }

    /// Compact JSON as Go's encoder writes it without HTML escaping.
    pub fn to_json(&self) -> String {
        let mut out = String::new();
        self.write_json(&mut out);
        out
    }

    fn write_json(&self, out: &mut String) {
        match self {
            Val::Null => out.push_str("null"),
            Val::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Val::Num(n) => out.push_str(&n.to_string()),
            Val::Str(s) => out.push_str(&serde_json::to_string(s).unwrap_or_default()),
            Val::Arr(a) => {
                out.push('[');
                for (i, v) in a.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    v.write_json(out);
                }
                out.push(']');
            }
            Val::Obj(o) => {
                out.push('{');
                let mut first = true;
                for (k, v) in o.iter().filter(|(k, _)| !k.starts_with(HIDDEN)) {
                    if !first {
                        out.push(',');
                    }
                    first = false;
                    out.push_str(&serde_json::to_string(k).unwrap_or_default());
                    out.push(':');
                    v.write_json(out);
                }
                out.push('}');
            }
        }
    }

    /// The value as Go's `fmt` prints it (`{{.X}}`): slices `[a b]`, maps
    /// `map[k:v]`; `key` is the field name the value came from, used to
    /// print a null the way its Go type would (`[]`, `map[]`, `<nil>`).
    pub fn to_go(&self, key: &str) -> String {
        match self {
            Val::Null => null_for_key(key).to_string(),
            Val::Bool(b) => b.to_string(),
            Val::Num(n) => n.to_string(),
            Val::Str(s) => s.clone(),
            Val::Arr(a) => {
                let parts: Vec<String> = a.iter().map(|v| v.to_go("")).collect();
                format!("[{}]", parts.join(" "))
            }
            Val::Obj(o) => {
                let mut entries: Vec<&(String, Val)> =
                    o.iter().filter(|(k, _)| !k.starts_with(HIDDEN)).collect();
                entries.sort_by(|a, b| a.0.cmp(&b.0));
                let parts: Vec<String> = entries
                    .iter()
                    .map(|(k, v)| format!("{k}:{}", v.to_go(k)))
                    .collect();
                format!("map[{}]", parts.join(" "))
            }
        }
    }
}

/// How Go prints the zero value of the field named `key` in Docker's
/// inspect structs: most nullable fields are slices, some maps, a few
/// pointers.
fn null_for_key(key: &str) -> &'static str {
    const MAPS: &[&str] = &[
        "Labels",
        "Volumes",
        "ExposedPorts",
        "Options",
        "Sysctls",
        "StorageOpt",
        "Tmpfs",
        "PortBindings",
        "DriverOpts",
        "Config",
        "Data",
        "Ports",
    ];
    const POINTERS: &[&str] = &[
        "OomKillDisable",
        "PidsLimit",
        "MemorySwappiness",
        "Init",
        "Health",
        "Healthcheck",
        "IPAMConfig",
        "NetworkingConfig",
        "SizeRw",
        "SizeRootFs",
    ];
    if MAPS.contains(&key) {
        "map[]"
    } else if POINTERS.contains(&key) || key.is_empty() {
        "<nil>"
    } else {
        "[]"
    }
}

impl From<&serde_json::Value> for Val {
    fn from(v: &serde_json::Value) -> Self {
        match v {
            serde_json::Value::Null => Val::Null,
            serde_json::Value::Bool(b) => Val::Bool(*b),
            serde_json::Value::Number(n) => Val::Num(n.clone()),
            serde_json::Value::String(s) => Val::Str(s.clone()),
            serde_json::Value::Array(a) => Val::Arr(a.iter().map(Val::from).collect()),
            serde_json::Value::Object(o) => {
                Val::Obj(o.iter().map(|(k, v)| (k.clone(), Val::from(v))).collect())
            }
        }
    }
}

impl<'de> Deserialize<'de> for Val {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(ValVisitor)
    }
}

struct ValVisitor;

impl<'de> Visitor<'de> for ValVisitor {
    type Value = Val;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_unit<E>(self) -> Result<Val, E> {
        Ok(Val::Null)
    }
    fn visit_none<E>(self) -> Result<Val, E> {
        Ok(Val::Null)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Val, E> {
        Ok(Val::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Val, E> {
        Ok(Val::Num(v.into()))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Val, E> {
        Ok(Val::Num(v.into()))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Val, E> {
        Ok(Number::from_f64(v).map(Val::Num).unwrap_or(Val::Null))
    }
    fn visit_str<E>(self, v: &str) -> Result<Val, E> {
        Ok(Val::Str(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Val, E> {
        Ok(Val::Str(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Val, A::Error> {
        let mut out = Vec::new();
        while let Some(v) = seq.next_element()? {
            out.push(v);
        }
        Ok(Val::Arr(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Val, A::Error> {
        let mut out = Vec::new();
        while let Some((k, v)) = map.next_entry::<String, Val>()? {
            out.push((k, v));
        }
        Ok(Val::Obj(out))
    }
}

/// Re-indent raw JSON text with `indent` per level, keeping key order and
/// number spelling, as Go's `json.Indent` does for `docker inspect`.
pub fn indent_json(raw: &str, indent: &str) -> String {
    let mut out = String::with_capacity(raw.len() * 2);
    let mut depth = 0usize;
    let mut in_str = false;
    let mut escaped = false;
    let mut chars = raw.chars().peekable();
    let newline = |out: &mut String, depth: usize| {
        out.push('\n');
        for _ in 0..depth {
            out.push_str(indent);
        }
    };
    while let Some(c) = chars.next() {
        if in_str {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_str = false;
            }
            continue;
        }
        match c {
            '"' => {
                in_str = true;
                out.push(c);
            }
            '{' | '[' => {
                out.push(c);
                while chars.peek().is_some_and(|c| c.is_whitespace()) {
                    chars.next();
                }
                let close = if c == '{' { '}' } else { ']' };
                if chars.peek() == Some(&close) {
                    chars.next();
                    out.push(close);
                } else {
                    depth += 1;
                    newline(&mut out, depth);
                }
            }
            '}' | ']' => {
                depth = depth.saturating_sub(1);
                newline(&mut out, depth);
                out.push(c);
            }
            ',' => {
                out.push(c);
                newline(&mut out, depth);
            }
            ':' => out.push_str(": "),
            c if c.is_whitespace() => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_key_order() {
        let v: Val =
            serde_json::from_str(r#"{"b":1,"a":[true,null],"c":{"z":"x","y":""}}"#).unwrap();
        assert_eq!(
            v.to_json(),
            r#"{"b":1,"a":[true,null],"c":{"z":"x","y":""}}"#
        );
    }

    #[test]
    fn prints_like_go_fmt() {
        let v: Val = serde_json::from_str(
            r#"{"Cmd":["echo","hi"],"Labels":{"b":"2","a":"1"},"Entrypoint":null,"N":3}"#,
        )
        .unwrap();
        assert_eq!(v.get("Cmd").unwrap().to_go("Cmd"), "[echo hi]");
        assert_eq!(v.get("Labels").unwrap().to_go("Labels"), "map[a:1 b:2]");
        assert_eq!(v.get("Entrypoint").unwrap().to_go("Entrypoint"), "[]");
        assert_eq!(v.get("N").unwrap().to_go("N"), "3");
        assert_eq!(Val::Null.to_go("Labels"), "map[]");
    }

    #[test]
    fn indents_like_go() {
        let raw = r#"[{"Id":"x","A":[],"B":{},"C":[1,2],"D":{"e":"a,b:{}"}}]"#;
        let want = "[\n    {\n        \"Id\": \"x\",\n        \"A\": [],\n        \"B\": {},\n        \"C\": [\n            1,\n            2\n        ],\n        \"D\": {\n            \"e\": \"a,b:{}\"\n        }\n    }\n]";
        assert_eq!(indent_json(raw, "    "), want);
    }
}
