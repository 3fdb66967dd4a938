//! A YAML document as a tree of nodes that remember where they came from
//! (file and line), with anchors, aliases and merge keys (`<<`) resolved
//! and the tags Compose gives meaning to (`!reset`, `!override`) kept.
//!
//! Built on `yaml-rust2`'s event parser because its events carry source
//! markers and tags, which the `Yaml` value type drops.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use indexmap::IndexMap;
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser, Tag};
use yaml_rust2::scanner::{Marker, TScalarStyle};

use crate::error::LoadError;

/// Where a node starts: the file (as shown to the user) and the 1-based line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pos {
    /// The file as shown in messages.
    pub file: Arc<Path>,
    /// 1-based line number.
    pub line: usize,
}

impl Pos {
    /// A position for values that come from no file (command-line input).
    pub fn none() -> Pos {
        Pos {
            file: Arc::from(PathBuf::new()),
            line: 0,
        }
    }
}

/// A scalar: its text and whether it was written plain (unquoted), which
/// decides whether `true`, `12` or `null` are typed values or strings.
#[derive(Debug, Clone, PartialEq)]
pub struct Scalar {
    /// The text of the scalar.
    pub text: String,
    /// Whether it was written without quotes.
    pub plain: bool,
}

/// The value of a node.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `null`, `~` or nothing.
    Null,
    /// A scalar.
    Scalar(Scalar),
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping with string keys, in document order.
    Map(IndexMap<String, Node>),
}

/// A tag Compose gives meaning to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Marking {
    /// `!reset`: remove what earlier files set.
    Reset,
    /// `!override`: replace instead of merging.
    Override,
}

/// A node of the document tree.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// The value.
    pub value: Value,
    /// Where it starts.
    pub pos: Pos,
    /// `!reset` / `!override`, if tagged so.
    pub marking: Option<Marking>,
}

impl Node {
    /// A new untagged node.
    pub fn new(value: Value, pos: Pos) -> Node {
        Node {
            value,
            pos,
            marking: None,
        }
    }

    /// A plain string scalar.
    pub fn string(text: impl Into<String>, pos: Pos) -> Node {
        Node::new(
            Value::Scalar(Scalar {
                text: text.into(),
                plain: false,
            }),
            pos,
        )
    }

    /// An empty mapping.
    pub fn map(pos: Pos) -> Node {
        Node::new(Value::Map(IndexMap::new()), pos)
    }

    /// The mapping, if this is one.
    pub fn as_map(&self) -> Option<&IndexMap<String, Node>> {
        match &self.value {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    /// The mapping, mutably, if this is one.
    pub fn as_map_mut(&mut self) -> Option<&mut IndexMap<String, Node>> {
        match &mut self.value {
            Value::Map(m) => Some(m),
            _ => None,
        }
    }

    /// The sequence, if this is one.
    pub fn as_seq(&self) -> Option<&Vec<Node>> {
        match &self.value {
            Value::Seq(s) => Some(s),
            _ => None,
        }
    }

    /// The scalar text, if this is a scalar.
    pub fn as_str(&self) -> Option<&str> {
        match &self.value {
            Value::Scalar(s) => Some(&s.text),
            _ => None,
        }
    }

    /// Whether this is null.
    pub fn is_null(&self) -> bool {
        matches!(self.value, Value::Null)
    }

    /// The entry `key` of a mapping.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map().and_then(|m| m.get(key))
    }

    /// What kind of value this is, as named in type errors.
    pub fn kind(&self) -> &'static str {
        match &self.value {
            Value::Null => "null",
            Value::Scalar(s) if s.plain => match scalar_json(s) {
                serde_json::Value::Bool(_) => "boolean",
                serde_json::Value::Number(_) => "number",
                _ => "string",
            },
            Value::Scalar(_) => "string",
            Value::Seq(_) => "array",
            Value::Map(_) => "mapping",
        }
    }

    /// The node as JSON, scalars typed as YAML's core schema types them.
    pub fn to_json(&self) -> serde_json::Value {
        match &self.value {
            Value::Null => serde_json::Value::Null,
            Value::Scalar(s) if s.plain => scalar_json(s),
            Value::Scalar(s) => serde_json::Value::String(s.text.clone()),
            Value::Seq(items) => items.iter().map(Node::to_json).collect(),
            Value::Map(m) => m
                .iter()
                .map(|(k, v)| (k.clone(), v.to_json()))
                .collect::<serde_json::Map<_, _>>()
                .into(),
        }
    }
}

/// The typed value of a plain scalar (YAML 1.2 core schema).
pub fn scalar_json(s: &Scalar) -> serde_json::Value {
    let t = s.text.as_str();
    match t {
        "true" | "True" | "TRUE" => return true.into(),
        "false" | "False" | "FALSE" => return false.into(),
        _ => {}
    }
    if let Ok(i) = t.parse::<i64>() {
        return i.into();
    }
    if t.contains(['.', 'e', 'E']) && !t.starts_with('.') && !t.ends_with('.') {
        if let Ok(f) = t.parse::<f64>() {
            if f.is_finite() {
                if let Some(n) = serde_json::Number::from_f64(f) {
                    return n.into();
                }
            }
        }
    }
    serde_json::Value::String(t.to_string())
}

fn is_null_plain(t: &str) -> bool {
    matches!(t, "" | "~" | "null" | "Null" | "NULL")
}

/// Parse one YAML document. `shown` is the file name used in positions.
/// An empty document is an empty mapping.
pub fn parse(text: &str, shown: &Path) -> Result<Node, LoadError> {
    let file: Arc<Path> = Arc::from(shown);
    let mut builder = Builder {
        file: file.clone(),
        stack: Vec::new(),
        anchors: HashMap::new(),
        docs: Vec::new(),
        error: None,
    };
    let mut parser = Parser::new(text.chars());
    parser.load(&mut builder, true).map_err(|e| {
        LoadError::at(
            Pos {
                file: file.clone(),
                line: e.marker().line(),
            },
            "",
            e.info(),
        )
    })?;
    if let Some(e) = builder.error {
        return Err(e);
    }
    let mut docs = builder.docs.into_iter();
    let doc = docs.next();
    if let Some(extra) = docs.next() {
        return Err(LoadError::at(
            extra.pos,
            "",
            "expected a single document in the file",
        ));
    }
    Ok(match doc {
        Some(n) if !n.is_null() => n,
        _ => Node::map(Pos { file, line: 1 }),
    })
}

enum Frame {
    Seq(Node, Vec<Node>, usize),
    Map(Node, Vec<(Node, Node)>, Option<Node>, usize),
}

struct Builder {
    file: Arc<Path>,
    stack: Vec<Frame>,
    anchors: HashMap<usize, Node>,
    docs: Vec<Node>,
    error: Option<LoadError>,
}

fn marking(tag: &Option<Tag>) -> Option<Marking> {
    let t = tag.as_ref()?;
    if t.handle != "!" {
        return None;
    }
    match t.suffix.as_str() {
        "reset" => Some(Marking::Reset),
        "override" => Some(Marking::Override),
        _ => None,
    }
}

impl Builder {
    fn pos(&self, m: &Marker) -> Pos {
        Pos {
            file: self.file.clone(),
            line: m.line(),
        }
    }

    fn fail(&mut self, e: LoadError) {
        if self.error.is_none() {
            self.error = Some(e);
        }
    }

    fn finish(&mut self, node: Node, anchor: usize) {
        if anchor > 0 {
            self.anchors.insert(anchor, node.clone());
        }
        self.push_value(node);
    }

    fn push_value(&mut self, node: Node) {
        match self.stack.last_mut() {
            None => self.docs.push(node),
            Some(Frame::Seq(_, items, _)) => items.push(node),
            Some(Frame::Map(_, entries, key, _)) => match key.take() {
                None => *key = Some(node),
                Some(k) => entries.push((k, node)),
            },
        }
    }

    fn close_map(&mut self, mut node: Node, entries: Vec<(Node, Node)>) -> Node {
        let mut map: IndexMap<String, Node> = IndexMap::new();
        let mut merges = Vec::new();
        for (k, v) in entries {
            let key = match &k.value {
                Value::Scalar(s) => s.text.clone(),
                Value::Null => "null".to_string(),
                _ => {
                    self.fail(LoadError::at(
                        k.pos.clone(),
                        "",
                        "mapping keys must be strings",
                    ));
                    continue;
                }
            };
            if key == "<<" && matches!(&k.value, Value::Scalar(s) if s.plain) {
                merges.push(v);
                continue;
            }
            // A block collection starts on the line after its key; point
            // at the key, where a reader looks for it.
            let mut v = v;
            if matches!(v.value, Value::Map(_) | Value::Seq(_)) {
                v.pos = k.pos.clone();
            }
            if let Some(prev) = map.get(&key) {
                let line = prev.pos.line;
                self.fail(LoadError::at(
                    k.pos.clone(),
                    "",
                    format!("mapping key {key:?} already defined at line {line}"),
                ));
                continue;
            }
            map.insert(key, v);
        }
        // Merge keys: explicit entries win, then earlier merge sources.
        for m in merges {
            let sources = match m.value {
                Value::Map(_) => vec![m],
                Value::Seq(items) => items,
                _ => {
                    self.fail(LoadError::at(
                        m.pos,
                        "",
                        "merge key `<<` needs a mapping or a list of mappings",
                    ));
                    continue;
                }
            };
            for src in sources {
                let Value::Map(entries) = src.value else {
                    self.fail(LoadError::at(
                        src.pos,
                        "",
                        "merge key `<<` needs a mapping or a list of mappings",
                    ));
                    continue;
                };
                for (k, v) in entries {
                    map.entry(k).or_insert(v);
                }
            }
        }
        node.value = Value::Map(map);
        node
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        match ev {
            Event::Scalar(text, style, anchor, tag) => {
                let plain = style == TScalarStyle::Plain;
                let value = if plain && is_null_plain(&text) && tag.is_none() {
                    Value::Null
                } else {
                    Value::Scalar(Scalar { text, plain })
                };
                let mut node = Node::new(value, self.pos(&mark));
                node.marking = marking(&tag);
                if node.marking.is_some()
                    && matches!(&node.value, Value::Scalar(s) if s.text.is_empty())
                {
                    node.value = Value::Null;
                }
                self.finish(node, anchor);
            }
            Event::SequenceStart(anchor, tag) => {
                let mut node = Node::new(Value::Null, self.pos(&mark));
                node.marking = marking(&tag);
                self.stack.push(Frame::Seq(node, Vec::new(), anchor));
            }
            Event::SequenceEnd => {
                if let Some(Frame::Seq(mut node, items, anchor)) = self.stack.pop() {
                    node.value = Value::Seq(items);
                    self.finish(node, anchor);
                }
            }
            Event::MappingStart(anchor, tag) => {
                let mut node = Node::new(Value::Null, self.pos(&mark));
                node.marking = marking(&tag);
                self.stack.push(Frame::Map(node, Vec::new(), None, anchor));
            }
            Event::MappingEnd => {
                if let Some(Frame::Map(node, entries, _, anchor)) = self.stack.pop() {
                    let node = self.close_map(node, entries);
                    self.finish(node, anchor);
                }
            }
            Event::Alias(id) => match self.anchors.get(&id) {
                Some(n) => {
                    let n = n.clone();
                    self.push_value(n);
                }
                None => {
                    let pos = self.pos(&mark);
                    self.fail(LoadError::at(pos, "", "unknown anchor"));
                    self.push_value(Node::new(Value::Null, self.pos(&mark)));
                }
            },
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Node {
        parse(s, Path::new("c.yaml")).unwrap()
    }

    #[test]
    fn positions_are_lines() {
        let n = p("services:\n  web:\n    image: x\n    ports:\n      - 80\n");
        let web = n.get("services").unwrap().get("web").unwrap();
        assert_eq!(web.get("image").unwrap().pos.line, 3);
        assert_eq!(web.get("ports").unwrap().as_seq().unwrap()[0].pos.line, 5);
    }

    #[test]
    fn anchors_aliases_and_merge_keys() {
        let n = p("x-base: &b\n  image: a\n  tty: true\ns:\n  <<: *b\n  image: c\nt: *b\nu:\n  <<: [*b, {user: me}]\n");
        let s = n.get("s").unwrap();
        assert_eq!(s.get("image").unwrap().as_str(), Some("c"));
        assert_eq!(s.get("tty").unwrap().to_json(), serde_json::json!(true));
        assert_eq!(
            n.get("t").unwrap().get("image").unwrap().as_str(),
            Some("a")
        );
        assert_eq!(
            n.get("u").unwrap().get("user").unwrap().as_str(),
            Some("me")
        );
    }

    #[test]
    fn tags_and_scalar_types() {
        let n = p("a: !reset []\nb: !override {x: 1}\nc: \"12\"\nd: 12\ne: ~\nf: !reset\n");
        assert_eq!(n.get("a").unwrap().marking, Some(Marking::Reset));
        assert_eq!(n.get("b").unwrap().marking, Some(Marking::Override));
        assert_eq!(n.get("c").unwrap().to_json(), serde_json::json!("12"));
        assert_eq!(n.get("d").unwrap().to_json(), serde_json::json!(12));
        assert!(n.get("e").unwrap().is_null());
        assert_eq!(n.get("f").unwrap().marking, Some(Marking::Reset));
    }

    #[test]
    fn duplicate_keys_and_syntax_errors_have_lines() {
        let e = parse("a: 1\nb: 2\na: 3\n", Path::new("c.yaml")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "c.yaml:3: mapping key \"a\" already defined at line 1"
        );
        let e = parse("a: [1\nb: 2\n", Path::new("c.yaml")).unwrap_err();
        assert!(e.to_string().starts_with("c.yaml:"), "{e}");
    }

    #[test]
    fn empty_document_is_an_empty_map() {
        assert_eq!(p("").as_map().map(|m| m.len()), Some(0));
    }
}
