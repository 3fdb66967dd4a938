//! A subset of Go's `text/template`, enough for the `--format` strings
//! Docker users write: fields (`{{.State.Status}}`), method-like lookups
//! (`{{.Label "k"}}`), pipelines (`{{.X | json}}`), `range`/`if`/`else`/
//! `end`, trim markers (`{{-`/`-}}`) and Docker's functions (`json`,
//! `index`, `join`, `split`, `upper`, `lower`, `title`, `len`,
//! `truncate`, `pad`, `printf` with `%s`/`%v`/`%d`/`%q`, `println`).
//!
//! Written here rather than using `gtmpl`: that crate prints values with
//! Rust conventions where Docker's users rely on Go's (`[a b]`, `map[k:v]`,
//! `<no value>`), and it cannot keep JSON key order for `{{json .}}`.

mod value;

pub use value::{indent_json, Val, HIDDEN};

/// A template that failed to parse or run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct TemplateError(pub String);

type TResult<T> = Result<T, TemplateError>;

/// A method value that answers any `.Method "key"` call with `key`
/// (used by table header rows).
pub const ECHO_KEY: &str = "\u{1}echo";

fn err<T>(msg: impl Into<String>) -> TResult<T> {
    Err(TemplateError(msg.into()))
}

#[derive(Debug, Clone, PartialEq)]
enum Arg {
    /// `.A.B` (empty path: `.`).
    Field(Vec<String>),
    Str(String),
    Int(i64),
    Ident(String),
    Sub(Pipeline),
    /// A field chain on a parenthesized value: `(index .M "k").Field`.
    Chain(Box<Arg>, Vec<String>),
    /// A variable (`$v`, `$v.Field`, `$` for the data passed to the
    /// template) with a field path.
    Var(String, Vec<String>),
}

/// Variables in scope: `$` and those declared by `range $k, $v := ...`,
/// innermost last.
type Vars = Vec<(String, Val)>;

/// Marks a `.Field` token written right after `)` (a chain on the
/// parenthesized value, not a separate argument).
const CHAIN_MARK: char = '\u{2}';

type Cmd = Vec<Arg>;
type Pipeline = Vec<Cmd>;

#[derive(Debug, Clone, PartialEq)]
enum Node {
    Text(String),
    Action(Pipeline),
    /// `range [$k, $v :=] pipeline`: the declared variable names, the
    /// pipeline, the body and the else body.
    Range(Vec<String>, Pipeline, Vec<Node>, Vec<Node>),
    If(Pipeline, Vec<Node>, Vec<Node>),
}

/// A parsed template.
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    nodes: Vec<Node>,
}

impl Template {
    /// Parse a template.
    pub fn parse(src: &str) -> TResult<Template> {
        let pieces = split_actions(src)?;
        let mut pos = 0;
        let (nodes, end) = parse_nodes(&pieces, &mut pos, 0)?;
        if let Some(end) = end {
            return err(format!("template: :1: unexpected {{{{{end}}}}}"));
        }
        Ok(Template { nodes })
    }

    /// Run the template with `dot` as `.`.
    pub fn execute(&self, dot: &Val) -> TResult<String> {
        let mut out = String::new();
        let vars: Vars = vec![("$".to_string(), dot.clone())];
        exec_nodes(&self.nodes, dot, &vars, &mut out)?;
        Ok(out)
    }
}

/// Parse and run in one go.
#[cfg(test)]
pub fn render(src: &str, dot: &Val) -> TResult<String> {
    Template::parse(src)?.execute(dot)
}

enum Piece {
    Text(String),
    Action(String),
}

fn split_actions(src: &str) -> TResult<Vec<Piece>> {
    let mut pieces = Vec::new();
    let mut rest = src;
    let mut trim_next = false;
    while let Some(start) = rest.find("{{") {
        let mut text = &rest[..start];
        if trim_next {
            text = text.trim_start();
        }
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            return err("template: :1: unclosed action");
        };
        let mut inner = &after[..end];
        if inner.starts_with("- ") || inner == "-" {
            text = text.trim_end();
            inner = &inner[1..];
        }
        trim_next = false;
        if inner.ends_with(" -") {
            trim_next = true;
            inner = &inner[..inner.len() - 1];
        }
        if !text.is_empty() {
            pieces.push(Piece::Text(text.to_string()));
        }
        let inner = inner.trim();
        if !inner.starts_with("/*") {
            pieces.push(Piece::Action(inner.to_string()));
        }
        rest = &after[end + 2..];
    }
    let text = if trim_next { rest.trim_start() } else { rest };
    if !text.is_empty() {
        pieces.push(Piece::Text(text.to_string()));
    }
    Ok(pieces)
}

/// Deepest nesting of blocks (`if`/`range`/`with`) and of parentheses the
/// parser accepts. Parsing, running and dropping a template recurse once
/// per level, so without a bound a template could overflow the stack (found
/// by fuzzing); Go's own parser allows more, but no real `--format` nests
/// anywhere near this deep.
const MAX_DEPTH: usize = 100;

/// Most spaces `pad` adds on one side.
const MAX_PAD: usize = 1 << 20;

fn check_depth(depth: usize) -> TResult<()> {
    if depth > MAX_DEPTH {
        return err("template: :1: max expression depth exceeded");
    }
    Ok(())
}

/// Parse nodes until `end`/`else` (returned) or the end of input; `depth`
/// is the number of enclosing blocks.
fn parse_nodes(
    pieces: &[Piece],
    pos: &mut usize,
    depth: usize,
) -> TResult<(Vec<Node>, Option<String>)> {
    check_depth(depth)?;
    let mut nodes = Vec::new();
    while *pos < pieces.len() {
        let piece = &pieces[*pos];
        *pos += 1;
        match piece {
            Piece::Text(t) => nodes.push(Node::Text(t.clone())),
            Piece::Action(a) => {
                let (word, rest) = match a.split_once(char::is_whitespace) {
                    Some((w, r)) => (w, r.trim()),
                    None => (a.as_str(), ""),
                };
                match word {
                    "end" | "else" => return Ok((nodes, Some(word.to_string()))),
                    "range" | "if" | "with" => {
                        let (names, rest) = match rest.split_once(":=") {
                            Some((decl, pipe)) if word == "range" => {
                                let names: Vec<String> =
                                    decl.split(',').map(|n| n.trim().to_string()).collect();
                                if names.len() > 2
                                    || names.iter().any(|n| !n.starts_with('$') || n.len() < 2)
                                {
                                    return err(format!(
                                        "template: :1: unexpected \"{}\" in range",
                                        decl.trim()
                                    ));
                                }
                                (names, pipe.trim())
                            }
                            _ => (Vec::new(), rest),
                        };
                        let pipe = parse_pipeline(rest)?;
                        let (body, end) = parse_nodes(pieces, pos, depth + 1)?;
                        let else_body = match end.as_deref() {
                            Some("else") => {
                                let (e, end2) = parse_nodes(pieces, pos, depth + 1)?;
                                if end2.as_deref() != Some("end") {
                                    return err(format!("template: :1: unexpected EOF in {word}"));
                                }
                                e
                            }
                            Some("end") => Vec::new(),
                            _ => return err(format!("template: :1: unexpected EOF in {word}")),
                        };
                        nodes.push(if word == "range" {
                            Node::Range(names, pipe, body, else_body)
                        } else if word == "with" {
                            // `with` sets dot; model it as a one-shot range
                            // over a non-array value.
                            Node::Range(
                                Vec::new(),
                                vec![vec![Arg::Ident("\u{1}with".into()), Arg::Sub(pipe)]],
                                body,
                                else_body,
                            )
                        } else {
                            Node::If(pipe, body, else_body)
                        });
                    }
                    _ => nodes.push(Node::Action(parse_pipeline(a)?)),
                }
            }
        }
    }
    Ok((nodes, None))
}

fn parse_pipeline(src: &str) -> TResult<Pipeline> {
    let tokens = tokenize(src)?;
    let mut pos = 0;
    let pipe = parse_pipe_tokens(&tokens, &mut pos, 0)?;
    if pos != tokens.len() {
        return err(format!(
            "template: :1: unexpected \"{}\" in command",
            tokens[pos]
        ));
    }
    Ok(pipe)
}

/// Parse a pipeline; `depth` is the number of enclosing parentheses.
fn parse_pipe_tokens(tokens: &[String], pos: &mut usize, depth: usize) -> TResult<Pipeline> {
    check_depth(depth)?;
    let mut pipe = Vec::new();
    let mut cmd = Vec::new();
    while *pos < tokens.len() {
        let t = &tokens[*pos];
        match t.as_str() {
            ")" => break,
            "|" => {
                *pos += 1;
                if cmd.is_empty() {
                    return err("template: :1: missing value for command");
                }
                pipe.push(std::mem::take(&mut cmd));
            }
            "(" => {
                *pos += 1;
                let sub = parse_pipe_tokens(tokens, pos, depth + 1)?;
                if tokens.get(*pos).map(String::as_str) != Some(")") {
                    return err("template: :1: unclosed left paren");
                }
                *pos += 1;
                match tokens.get(*pos).and_then(|t| t.strip_prefix(CHAIN_MARK)) {
                    Some(path) => {
                        *pos += 1;
                        let path = path.trim_start_matches('.');
                        cmd.push(Arg::Chain(
                            Box::new(Arg::Sub(sub)),
                            path.split('.').map(str::to_string).collect(),
                        ));
                    }
                    None => cmd.push(Arg::Sub(sub)),
                }
            }
            _ => {
                *pos += 1;
                cmd.push(parse_arg(t)?);
            }
        }
    }
    if cmd.is_empty() {
        return err("template: :1: missing value for command");
    }
    pipe.push(cmd);
    Ok(pipe)
}

fn parse_arg(t: &str) -> TResult<Arg> {
    if let Some(var) = t.strip_prefix('$') {
        let (name, path) = match var.split_once('.') {
            Some((n, p)) => (n, p.split('.').map(str::to_string).collect()),
            None => (var, Vec::new()),
        };
        return Ok(Arg::Var(format!("${name}"), path));
    }
    if t == "." {
        return Ok(Arg::Field(Vec::new()));
    }
    if let Some(path) = t.strip_prefix('.') {
        return Ok(Arg::Field(path.split('.').map(str::to_string).collect()));
    }
    if t.starts_with('"') {
        return serde_json::from_str::<String>(t)
            .map(Arg::Str)
            .map_err(|_| TemplateError(format!("template: :1: bad string {t}")));
    }
    if let Some(raw) = t.strip_prefix('`') {
        return Ok(Arg::Str(raw.trim_end_matches('`').to_string()));
    }
    if let Ok(n) = t.parse::<i64>() {
        return Ok(Arg::Int(n));
    }
    if t.chars().all(|c| c.is_alphanumeric() || c == '_') {
        return Ok(Arg::Ident(t.to_string()));
    }
    err(format!("template: :1: unexpected \"{t}\" in command"))
}

fn tokenize(src: &str) -> TResult<Vec<String>> {
    let mut tokens = Vec::new();
    let chars: Vec<char> = src.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '"' {
            let start = i;
            i += 1;
            while i < chars.len() && chars[i] != '"' {
                if chars[i] == '\\' {
                    i += 1;
                }
                i += 1;
            }
            if i >= chars.len() {
                return err("template: :1: unterminated quoted string");
            }
            i += 1;
            tokens.push(chars[start..i].iter().collect());
        } else if c == '`' {
            let start = i;
            i += 1;
            while i < chars.len() && chars[i] != '`' {
                i += 1;
            }
            if i >= chars.len() {
                return err("template: :1: unterminated raw quoted string");
            }
            i += 1;
            tokens.push(chars[start..i].iter().collect());
        } else if c == '|' || c == '(' || c == ')' {
            tokens.push(c.to_string());
            i += 1;
            if c == ')' && chars.get(i) == Some(&'.') {
                let start = i;
                while i < chars.len()
                    && !chars[i].is_whitespace()
                    && !matches!(chars[i], '|' | '(' | ')' | '"')
                {
                    i += 1;
                }
                let field: String = chars[start..i].iter().collect();
                tokens.push(format!("{CHAIN_MARK}{field}"));
            }
        } else {
            let start = i;
            while i < chars.len()
                && !chars[i].is_whitespace()
                && !matches!(chars[i], '|' | '(' | ')' | '"')
            {
                i += 1;
            }
            tokens.push(chars[start..i].iter().collect());
        }
    }
    Ok(tokens)
}

/// A value with the field name it came from (for Go-like printing).
#[derive(Debug, Clone)]
struct Res {
    val: Val,
    key: String,
}

fn exec_nodes(nodes: &[Node], dot: &Val, vars: &Vars, out: &mut String) -> TResult<()> {
    for node in nodes {
        match node {
            Node::Text(t) => out.push_str(t),
            Node::Action(p) => {
                let r = eval_pipeline(p, dot, vars)?;
                out.push_str(&r.val.to_go(&r.key));
            }
            Node::If(p, body, else_body) => {
                if eval_pipeline(p, dot, vars)?.val.truthy() {
                    exec_nodes(body, dot, vars, out)?;
                } else {
                    exec_nodes(else_body, dot, vars, out)?;
                }
            }
            Node::Range(names, p, body, else_body) => {
                let r = eval_pipeline(p, dot, vars)?;
                // The body with `$k, $v` (or `$v`) bound to key and element.
                let run = |key: Val, item: &Val, out: &mut String| -> TResult<()> {
                    if names.is_empty() {
                        return exec_nodes(body, item, vars, out);
                    }
                    let mut inner = vars.clone();
                    match names.as_slice() {
                        [v] => inner.push((v.clone(), item.clone())),
                        [k, v, ..] => {
                            inner.push((k.clone(), key));
                            inner.push((v.clone(), item.clone()));
                        }
                        [] => {}
                    }
                    exec_nodes(body, item, &inner, out)
                };
                let with = matches!(p.first().and_then(|c| c.first()), Some(Arg::Ident(i)) if i == "\u{1}with");
                if with {
                    if r.val.truthy() {
                        exec_nodes(body, &r.val, vars, out)?;
                    } else {
                        exec_nodes(else_body, dot, vars, out)?;
                    }
                    continue;
                }
                match &r.val {
                    Val::Arr(items) if !items.is_empty() => {
                        for (i, item) in items.iter().enumerate() {
                            run(Val::Num((i as u64).into()), item, out)?;
                        }
                    }
                    Val::Obj(entries) if !entries.is_empty() => {
                        let mut sorted: Vec<&(String, Val)> = entries.iter().collect();
                        sorted.sort_by(|a, b| a.0.cmp(&b.0));
                        for (k, v) in sorted {
                            run(Val::s(k.clone()), v, out)?;
                        }
                    }
                    Val::Arr(_) | Val::Obj(_) | Val::Null => exec_nodes(else_body, dot, vars, out)?,
                    other => {
                        return err(format!(
                            "template: :1: range can't iterate over {}",
                            other.to_go(&r.key)
                        ))
                    }
                }
            }
        }
    }
    Ok(())
}

fn eval_pipeline(p: &Pipeline, dot: &Val, vars: &Vars) -> TResult<Res> {
    let mut prev: Option<Res> = None;
    for cmd in p {
        prev = Some(eval_cmd(cmd, dot, vars, prev)?);
    }
    prev.ok_or_else(|| TemplateError("template: :1: empty pipeline".into()))
}

fn lookup(dot: &Val, path: &[String]) -> Res {
    let mut cur = dot.clone();
    let mut key = String::new();
    for p in path {
        let next = cur
            .get(p)
            .or_else(|| cur.get(&format!("{HIDDEN}{p}")))
            .cloned();
        match next {
            Some(v) => cur = v,
            None => {
                return Res {
                    val: Val::Str("<no value>".into()),
                    key: p.clone(),
                }
            }
        }
        key = p.clone();
    }
    Res { val: cur, key }
}

fn eval_arg(a: &Arg, dot: &Val, vars: &Vars) -> TResult<Res> {
    Ok(match a {
        Arg::Field(path) => lookup(dot, path),
        Arg::Str(s) => Res {
            val: Val::s(s.clone()),
            key: String::new(),
        },
        Arg::Int(n) => Res {
            val: Val::Num((*n).into()),
            key: String::new(),
        },
        Arg::Sub(p) => eval_pipeline(p, dot, vars)?,
        Arg::Chain(inner, path) => lookup(&eval_arg(inner, dot, vars)?.val, path),
        Arg::Var(name, path) => match vars.iter().rev().find(|(n, _)| n == name) {
            Some((_, v)) => lookup(v, path),
            None => return err(format!("template: :1: undefined variable \"{name}\"")),
        },
        Arg::Ident(i) if i == "nil" => Res {
            val: Val::Null,
            key: String::new(),
        },
        Arg::Ident(i) if i == "true" || i == "false" => Res {
            val: Val::Bool(i == "true"),
            key: String::new(),
        },
        Arg::Ident(i) => call(i, Vec::new())?,
    })
}

fn eval_cmd(cmd: &Cmd, dot: &Val, vars: &Vars, prev: Option<Res>) -> TResult<Res> {
    let Some(first) = cmd.first() else {
        return err("template: :1: empty command");
    };
    let mut args = Vec::new();
    for a in &cmd[1..] {
        args.push(eval_arg(a, dot, vars)?);
    }
    if let Some(p) = prev {
        args.push(p);
    }
    match first {
        Arg::Ident(name) => call(name, args),
        Arg::Field(path) if !args.is_empty() => {
            // A method call such as `.Label "k"`: index the field's map.
            let base = lookup(dot, path);
            let key = args[0].val.to_go("");
            if base.val == Val::s(ECHO_KEY) {
                // Header rows title such a column with the key itself.
                return Ok(Res {
                    val: Val::s(key.clone()),
                    key,
                });
            }
            let val = base.val.get(&key).cloned().unwrap_or(Val::s(""));
            Ok(Res { val, key })
        }
        other if args.is_empty() => eval_arg(other, dot, vars),
        _ => err("template: :1: can't give argument to non-function"),
    }
}

fn str_res(s: String) -> TResult<Res> {
    Ok(Res {
        val: Val::Str(s),
        key: String::new(),
    })
}

fn call(name: &str, args: Vec<Res>) -> TResult<Res> {
    let want = |n: usize| -> TResult<()> {
        if args.len() < n {
            err(format!(
                "template: :1: wrong number of args for {name}: want {n} got {}",
                args.len()
            ))
        } else {
            Ok(())
        }
    };
    match name {
        "\u{1}with" => {
            want(1)?;
            Ok(args[0].clone())
        }
        "json" => {
            want(1)?;
            str_res(args[0].val.to_json())
        }
        "index" => {
            want(1)?;
            let mut cur = args[0].clone();
            for idx in &args[1..] {
                cur = match (&cur.val, &idx.val) {
                    (Val::Obj(_), k) => {
                        let k = k.to_go("");
                        let v = cur.val.get(&k).cloned();
                        Res {
                            val: v.unwrap_or(Val::s("<no value>")),
                            key: k,
                        }
                    }
                    (Val::Arr(a), Val::Num(n)) => {
                        let i = n.as_u64().unwrap_or(u64::MAX) as usize;
                        match a.get(i) {
                            Some(v) => Res {
                                val: v.clone(),
                                key: String::new(),
                            },
                            None => {
                                return err(format!(
                                    "template: :1: error calling index: index out of range: {n}"
                                ))
                            }
                        }
                    }
                    (Val::Null, _) => Res {
                        val: Val::s("<no value>"),
                        key: String::new(),
                    },
                    _ => return err("template: :1: error calling index: cannot index value"),
                };
            }
            Ok(cur)
        }
        "join" => {
            want(2)?;
            let sep = args[1].val.to_go("");
            match &args[0].val {
                Val::Arr(a) => {
                    str_res(a.iter().map(|v| v.to_go("")).collect::<Vec<_>>().join(&sep))
                }
                v => str_res(v.to_go("")),
            }
        }
        "split" => {
            want(2)?;
            let s = args[0].val.to_go("");
            let sep = args[1].val.to_go("");
            Ok(Res {
                val: Val::Arr(s.split(sep.as_str()).map(Val::s).collect()),
                key: String::new(),
            })
        }
        "upper" => {
            want(1)?;
            str_res(args[0].val.to_go(&args[0].key).to_uppercase())
        }
        "lower" => {
            want(1)?;
            str_res(args[0].val.to_go(&args[0].key).to_lowercase())
        }
        "title" => {
            want(1)?;
            let s = args[0].val.to_go(&args[0].key);
            let mut out = String::new();
            let mut start = true;
            for c in s.chars() {
                if start {
                    out.extend(c.to_uppercase());
                } else {
                    out.push(c);
                }
                start = !c.is_alphanumeric();
            }
            str_res(out)
        }
        "len" => {
            want(1)?;
            let n = match &args[0].val {
                Val::Arr(a) => a.len(),
                Val::Obj(o) => o.len(),
                Val::Str(s) => s.len(),
                _ => return err("template: :1: error calling len: len of invalid value"),
            };
            Ok(Res {
                val: Val::Num((n as u64).into()),
                key: String::new(),
            })
        }
        "truncate" => {
            want(2)?;
            let s = args[0].val.to_go(&args[0].key);
            let n = args[1].val.to_go("").parse::<usize>().unwrap_or(usize::MAX);
            str_res(s.chars().take(n).collect())
        }
        "pad" => {
            want(3)?;
            let s = args[0].val.to_go(&args[0].key);
            let l = args[1].val.to_go("").parse::<usize>().unwrap_or(0);
            let r = args[2].val.to_go("").parse::<usize>().unwrap_or(0);
            // A bound instead of an attempt to allocate whatever was asked
            // (`pad .Name 777777777777 0` aborted the CLI; found by fuzzing).
            if l.max(r) > MAX_PAD {
                return err(format!(
                    "template: :1: error calling pad: padding larger than {MAX_PAD}"
                ));
            }
            str_res(format!("{}{s}{}", " ".repeat(l), " ".repeat(r)))
        }
        "not" => {
            want(1)?;
            Ok(Res {
                val: Val::Bool(!args[0].val.truthy()),
                key: String::new(),
            })
        }
        "eq" | "ne" => {
            want(2)?;
            let a = args[0].val.to_go(&args[0].key);
            let same = args[1..].iter().any(|b| b.val.to_go(&b.key) == a);
            Ok(Res {
                val: Val::Bool(same == (name == "eq")),
                key: String::new(),
            })
        }
        "and" => {
            want(1)?;
            let pick = args
                .iter()
                .find(|a| !a.val.truthy())
                .or(args.last())
                .cloned();
            pick.ok_or_else(|| TemplateError("template: :1: and: no args".into()))
        }
        "or" => {
            want(1)?;
            let pick = args
                .iter()
                .find(|a| a.val.truthy())
                .or(args.last())
                .cloned();
            pick.ok_or_else(|| TemplateError("template: :1: or: no args".into()))
        }
        "print" => str_res(
            args.iter()
                .map(|a| a.val.to_go(&a.key))
                .collect::<Vec<_>>()
                .join(" "),
        ),
        "println" => str_res(format!(
            "{}\n",
            args.iter()
                .map(|a| a.val.to_go(&a.key))
                .collect::<Vec<_>>()
                .join(" ")
        )),
        "printf" => {
            want(1)?;
            str_res(printf(&args[0].val.to_go(""), &args[1..]))
        }
        _ => err(format!("template: :1: function \"{name}\" not defined")),
    }
}

fn printf(fmt: &str, args: &[Res]) -> String {
    let mut out = String::new();
    let mut it = args.iter();
    let mut chars = fmt.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('%') => out.push('%'),
            Some(v @ ('s' | 'v' | 'd' | 'q')) => match it.next() {
                Some(a) => {
                    let s = a.val.to_go(&a.key);
                    if v == 'q' {
                        out.push_str(&serde_json::to_string(&s).unwrap_or_default());
                    } else {
                        out.push_str(&s);
                    }
                }
                None => out.push_str(&format!("%!{v}(MISSING)")),
            },
            Some(other) => {
                out.push('%');
                out.push(other);
            }
            None => out.push_str("%!(NOVERB)"),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inspect() -> Val {
        serde_json::from_str(
            r#"{"Id":"abc","Name":"/web","State":{"Status":"exited","ExitCode":3,"Running":false},
            "Config":{"Cmd":["sh","-c","exit 3"],"Entrypoint":null,"Labels":{"b":"2","a.b":"1"},"Env":["A=1"]},
            "RootFS":{"Type":"layers","Layers":["sha256:1","sha256:2"]}}"#,
        )
        .unwrap()
    }

    #[test]
    fn fields_and_go_printing() {
        let v = inspect();
        assert_eq!(render("{{.State.Status}}", &v).unwrap(), "exited");
        assert_eq!(render("{{.State.ExitCode}}", &v).unwrap(), "3");
        assert_eq!(render("{{.Id}} {{.Name}}", &v).unwrap(), "abc /web");
        assert_eq!(render("{{.Config.Cmd}}", &v).unwrap(), "[sh -c exit 3]");
        assert_eq!(render("{{.Config.Entrypoint}}", &v).unwrap(), "[]");
        assert_eq!(render("{{.Config.Labels}}", &v).unwrap(), "map[a.b:1 b:2]");
        assert_eq!(render("{{.State.Running}}", &v).unwrap(), "false");
        assert_eq!(render("{{.Nope}}", &v).unwrap(), "<no value>");
    }

    #[test]
    fn json_index_range() {
        let v = inspect();
        assert_eq!(
            render("{{json .Config.Labels}}", &v).unwrap(),
            r#"{"b":"2","a.b":"1"}"#
        );
        assert_eq!(
            render(r#"{{index .Config.Labels "a.b"}}"#, &v).unwrap(),
            "1"
        );
        assert_eq!(render("{{index .Config.Cmd 1}}", &v).unwrap(), "-c");
        assert_eq!(
            render("{{range .RootFS.Layers}}{{.}}\n{{end}}", &v).unwrap(),
            "sha256:1\nsha256:2\n"
        );
        assert_eq!(render("{{.Config.Env | json}}", &v).unwrap(), r#"["A=1"]"#);
        assert_eq!(render("{{json .Config.Entrypoint}}", &v).unwrap(), "null");
    }

    #[test]
    fn range_variables() {
        let v: Val = serde_json::from_str(
            r#"{"Name":"web","Nets":{"n2":{"IP":"10.0.0.2"},"bridge":{"IP":"172.17.0.2"}},"L":["a","b"]}"#,
        )
        .unwrap();
        assert_eq!(
            render("{{range $k, $v := .Nets}}{{$k}}={{$v.IP}} {{end}}", &v).unwrap(),
            "bridge=172.17.0.2 n2=10.0.0.2 "
        );
        assert_eq!(
            render("{{range $i, $e := .L}}{{$i}}:{{$e}}/{{$.Name}} {{end}}", &v).unwrap(),
            "0:a/web 1:b/web "
        );
        assert_eq!(render("{{range $e := .L}}{{$e}}{{end}}", &v).unwrap(), "ab");
        assert!(render("{{$nope}}", &v).is_err());
    }

    #[test]
    fn field_chain_on_parenthesized_value() {
        let v: Val = serde_json::from_str(
            r#"{"NetworkSettings":{"Networks":{"my-net":{"IPAddress":"172.18.0.2","Aliases":["a"]}}}}"#,
        )
        .unwrap();
        assert_eq!(
            render(
                r#"{{(index .NetworkSettings.Networks "my-net").IPAddress}}"#,
                &v
            )
            .unwrap(),
            "172.18.0.2"
        );
        assert_eq!(
            render(
                r#"{{json (index .NetworkSettings.Networks "my-net").Aliases}}"#,
                &v
            )
            .unwrap(),
            r#"["a"]"#
        );
        assert_eq!(
            render(
                r#"{{(index .NetworkSettings.Networks "my-net") | json}}"#,
                &v
            )
            .unwrap(),
            r#"{"IPAddress":"172.18.0.2","Aliases":["a"]}"#
        );
    }

    #[test]
    fn conditionals_and_functions() {
        let v = inspect();
        assert_eq!(
            render("{{if .State.Running}}up{{else}}down{{end}}", &v).unwrap(),
            "down"
        );
        assert_eq!(
            render(r#"{{join .Config.Cmd ","}}"#, &v).unwrap(),
            "sh,-c,exit 3"
        );
        assert_eq!(render("{{upper .State.Status}}", &v).unwrap(), "EXITED");
        assert_eq!(render("{{len .RootFS.Layers}}", &v).unwrap(), "2");
        assert_eq!(
            render(r#"{{printf "%s=%d" .Name .State.ExitCode}}"#, &v).unwrap(),
            "/web=3"
        );
        assert_eq!(render("a {{- \" b \" -}} c", &v).unwrap(), "a b c");
        assert_eq!(
            render("{{with .State}}{{.Status}}{{end}}", &v).unwrap(),
            "exited"
        );
    }

    #[test]
    fn method_style_label_lookup() {
        let row = Val::Obj(vec![
            ("ID".into(), Val::s("x")),
            (
                format!("{HIDDEN}Label"),
                Val::Obj(vec![("k".into(), Val::s("v"))]),
            ),
        ]);
        assert_eq!(
            render(r#"{{.ID}} {{.Label "k"}}|{{.Label "z"}}|"#, &row).unwrap(),
            "x v||"
        );
        assert_eq!(render("{{json .}}", &row).unwrap(), r#"{"ID":"x"}"#);
    }

    #[test]
    fn errors_are_reported() {
        assert!(Template::parse("{{.A").is_err());
        assert!(Template::parse("{{range .A}}x").is_err());
        assert!(render("{{nosuchfunc .A}}", &Val::Null).is_err());
        assert!(Template::parse("{{end}}").is_err());
    }

    #[test]
    fn nesting_is_bounded_without_overflowing_the_stack() {
        // Found by fuzzing: 16,000 parentheses overflowed the stack.
        let parens = |n: usize| format!("{{{{{}.Name{}}}}}", "(".repeat(n), ")".repeat(n));
        let blocks = |n: usize, inner: &str| {
            format!("{}{inner}{}", "{{if 1}}".repeat(n), "{{end}}".repeat(n))
        };
        let dot = inspect();
        // The deepest accepted template, blocks and parentheses together,
        // parses, runs and drops on a test thread's small stack.
        let deepest = blocks(MAX_DEPTH, &parens(MAX_DEPTH));
        assert_eq!(
            render(&deepest, &dot).unwrap(),
            render("{{.Name}}", &dot).unwrap()
        );
        for too_deep in [
            parens(MAX_DEPTH + 1),
            blocks(MAX_DEPTH + 1, "x"),
            parens(100_000),
        ] {
            assert_eq!(
                Template::parse(&too_deep).unwrap_err().to_string(),
                "template: :1: max expression depth exceeded"
            );
        }
    }

    #[test]
    fn huge_padding_is_an_error_not_an_abort() {
        let dot = inspect();
        assert_eq!(render("{{pad .Name 2 1}}", &dot).unwrap(), "  /web ");
        assert_eq!(
            render("{{pad .Name 777777777777 0}}", &dot)
                .unwrap_err()
                .to_string(),
            format!("template: :1: error calling pad: padding larger than {MAX_PAD}")
        );
    }
}
