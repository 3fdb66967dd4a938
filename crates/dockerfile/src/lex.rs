//! Shell-word expansion and splitting (buildkit's `shell/lex.go` rules).
//!
//! Quotes (`'` and `"`) are processed like a POSIX shell, the escape token
//! (`\` or `` ` ``) escapes the next character, and `$VAR`, `${VAR}`,
//! `${VAR:-x}`, `${VAR-x}`, `${VAR:+x}`, `${VAR+x}`, `${VAR:?msg}`,
//! `${VAR?msg}`, `${VAR#pat}`, `${VAR##pat}`, `${VAR%pat}`, `${VAR%%pat}`
//! and `${VAR/pat/repl}`, `${VAR//pat/repl}` are expanded.

use crate::error::Error;
use crate::quote::go_quote;

/// Expand variables and remove quotes in `word`, yielding one string.
pub fn expand_word(
    word: &str,
    escape: char,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<String, Error> {
    Lex::new(escape).process_word(word, env)
}

/// Expand variables in `word` and split the result into words (splitting
/// happens after expansion; quoted parts are never split).
pub fn expand_words(
    word: &str,
    escape: char,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Vec<String>, Error> {
    Lex::new(escape).process_words(word, env)
}

/// A configurable shell-word lexer.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Lex {
    escape: char,
    /// Keep quote characters in the output.
    pub raw_quotes: bool,
    /// Keep escape characters in the output.
    pub raw_escapes: bool,
    /// Leave references to unset variables as written.
    pub skip_unset_env: bool,
    /// Keep `<<` and the blanks after it together (heredoc detection).
    pub heredoc_words: bool,
    /// Treat quotes as ordinary characters (heredoc body expansion).
    pub skip_quotes: bool,
}

impl Lex {
    /// A lexer with default options.
    pub(crate) fn new(escape: char) -> Self {
        Lex {
            escape,
            raw_quotes: false,
            raw_escapes: false,
            skip_unset_env: false,
            heredoc_words: false,
            skip_quotes: false,
        }
    }

    /// Expand `word` into one string.
    pub(crate) fn process_word(
        &self,
        word: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<String, Error> {
        self.process(word, env).map(|(s, _)| s)
    }

    /// Expand `word` and split it into words.
    pub(crate) fn process_words(
        &self,
        word: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Vec<String>, Error> {
        self.process(word, env).map(|(_, w)| w)
    }

    fn process(
        &self,
        word: &str,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<(String, Vec<String>), Error> {
        let mut sw = ShellWord {
            lex: *self,
            chars: word.chars().collect(),
            pos: 0,
            env,
            raw_escapes: self.raw_escapes,
            depth: 0,
        };
        sw.process_stop_on(None, self.raw_escapes)
            .map_err(|e| Error::msg(format!("failed to process {}: {}", go_quote(word), e)))
    }
}

struct Words {
    buf: String,
    words: Vec<String>,
    in_word: bool,
}

impl Words {
    fn new() -> Self {
        Words {
            buf: String::new(),
            words: Vec::new(),
            in_word: false,
        }
    }

    fn add_char(&mut self, ch: char) {
        if ch.is_whitespace() {
            if self.in_word && !self.buf.is_empty() {
                self.words.push(std::mem::take(&mut self.buf));
                self.in_word = false;
            }
        } else {
            self.add_raw_char(ch);
        }
    }

    fn add_raw_char(&mut self, ch: char) {
        self.buf.push(ch);
        self.in_word = true;
    }

    fn add_string(&mut self, s: &str) {
        for ch in s.chars() {
            self.add_char(ch);
        }
    }

    fn add_raw_string(&mut self, s: &str) {
        self.buf.push_str(s);
        self.in_word = true;
    }

    fn finish(mut self) -> Vec<String> {
        if !self.buf.is_empty() {
            self.words.push(std::mem::take(&mut self.buf));
        }
        self.words
    }
}

struct ShellWord<'a> {
    lex: Lex,
    chars: Vec<char>,
    pos: usize,
    env: &'a dyn Fn(&str) -> Option<String>,
    raw_escapes: bool,
    /// Current `${...}` nesting depth.
    depth: usize,
}

/// Deepest `${...}` nesting accepted (guards the recursion).
const MAX_SUBSTITUTION_DEPTH: usize = 64;

type LexResult<T> = Result<T, String>;

impl ShellWord<'_> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.chars.get(self.pos).copied();
        if c.is_some() {
            self.pos += 1;
        }
        c
    }

    fn get_env(&self, name: &str) -> Option<String> {
        (self.env)(name)
    }

    fn process_stop_on(
        &mut self,
        stop: Option<char>,
        raw_escapes: bool,
    ) -> LexResult<(String, Vec<String>)> {
        let saved = self.raw_escapes;
        self.raw_escapes = raw_escapes;
        let r = self.process_stop_on_inner(stop);
        self.raw_escapes = saved;
        r
    }

    fn process_stop_on_inner(&mut self, stop: Option<char>) -> LexResult<(String, Vec<String>)> {
        let mut result = String::new();
        let mut words = Words::new();
        while let Some(ch) = self.peek() {
            if Some(ch) == stop {
                self.next();
                return Ok((result, words.finish()));
            }
            match ch {
                '$' => {
                    let tmp = self.process_dollar()?;
                    result.push_str(&tmp);
                    words.add_string(&tmp);
                }
                '<' if self.lex.heredoc_words => {
                    let tmp = self.process_possible_heredoc();
                    result.push_str(&tmp);
                    words.add_raw_string(&tmp);
                }
                '\'' if !self.lex.skip_quotes => {
                    let tmp = self.process_single_quote()?;
                    result.push_str(&tmp);
                    words.add_raw_string(&tmp);
                }
                '"' if !self.lex.skip_quotes => {
                    let tmp = self.process_double_quote()?;
                    result.push_str(&tmp);
                    words.add_raw_string(&tmp);
                }
                _ => {
                    self.next();
                    if ch == self.lex.escape {
                        if self.raw_escapes {
                            words.add_raw_char(ch);
                            result.push(ch);
                        }
                        match self.next() {
                            None => break,
                            Some(c) => {
                                words.add_raw_char(c);
                                result.push(c);
                            }
                        }
                    } else {
                        words.add_char(ch);
                        result.push(ch);
                    }
                }
            }
        }
        if let Some(s) = stop {
            return Err(format!(
                "unexpected end of statement while looking for matching {s}"
            ));
        }
        Ok((result, words.finish()))
    }

    fn process_single_quote(&mut self) -> LexResult<String> {
        let mut result = String::new();
        let open = self.next();
        if self.lex.raw_quotes {
            result.extend(open);
        }
        loop {
            match self.next() {
                None => {
                    return Err(
                        "unexpected end of statement while looking for matching single-quote"
                            .into(),
                    )
                }
                Some('\'') => {
                    if self.lex.raw_quotes {
                        result.push('\'');
                    }
                    return Ok(result);
                }
                Some(c) => result.push(c),
            }
        }
    }

    fn process_double_quote(&mut self) -> LexResult<String> {
        let mut result = String::new();
        let open = self.next();
        if self.lex.raw_quotes {
            result.extend(open);
        }
        loop {
            match self.peek() {
                None => {
                    return Err(
                        "unexpected end of statement while looking for matching double-quote"
                            .into(),
                    )
                }
                Some('"') => {
                    self.next();
                    if self.lex.raw_quotes {
                        result.push('"');
                    }
                    return Ok(result);
                }
                Some('$') => {
                    let v = self.process_dollar()?;
                    result.push_str(&v);
                }
                Some(_) => {
                    let mut ch = self.next().unwrap_or_default();
                    if ch == self.lex.escape {
                        if self.raw_escapes {
                            result.push(ch);
                        }
                        match self.peek() {
                            None => continue,
                            Some(c) if c == '"' || c == '$' || c == self.lex.escape => {
                                self.next();
                                ch = c;
                            }
                            Some(_) => {}
                        }
                    }
                    result.push(ch);
                }
            }
        }
    }

    fn process_possible_heredoc(&mut self) -> String {
        self.next();
        if self.peek() != Some('<') {
            return "<".into();
        }
        self.next();
        let mut result = String::from("<<");
        while let Some(c) = self.peek() {
            if c == '\t' || c == '\r' || c == ' ' {
                result.push(c);
                self.next();
            } else {
                break;
            }
        }
        result
    }

    fn process_dollar(&mut self) -> LexResult<String> {
        if self.depth >= MAX_SUBSTITUTION_DEPTH {
            return Err("syntax error: substitutions nested too deeply".into());
        }
        self.depth += 1;
        let r = self.process_dollar_inner();
        self.depth -= 1;
        r
    }

    fn process_dollar_inner(&mut self) -> LexResult<String> {
        self.next();
        if self.peek() != Some('{') {
            let name = self.process_name();
            if name.is_empty() {
                return Ok("$".into());
            }
            return Ok(match self.get_env(&name) {
                Some(v) => v,
                None if self.lex.skip_unset_env => format!("${name}"),
                None => String::new(),
            });
        }
        self.next();
        match self.peek() {
            None => return Err("syntax error: missing '}'".into()),
            Some('{') | Some('}') | Some(':') => {
                return Err("syntax error: bad substitution".into())
            }
            _ => {}
        }
        let name = self.process_name();
        let first = self.next();
        let mut chs: String = first.map(String::from).unwrap_or_else(|| "\u{fffd}".into());
        match first {
            Some('}') => Ok(match self.get_env(&name) {
                Some(v) => v,
                None if self.lex.skip_unset_env => format!("${{{name}}}"),
                None => String::new(),
            }),
            Some(c @ (':' | '+' | '-' | '?' | '#' | '%')) => {
                let mut ch = Some(c);
                let mut null_is_unset = false;
                if c == ':' {
                    null_is_unset = true;
                    ch = self.next();
                    if let Some(c2) = ch {
                        chs.push(c2);
                    }
                }
                let raw = matches!(ch, Some('#') | Some('%'));
                if null_is_unset && raw {
                    return Err(format!("unsupported modifier ({chs}) in substitution"));
                }
                let word = match self.process_stop_on(Some('}'), raw) {
                    Ok((w, _)) => w,
                    Err(e) => {
                        if self.peek().is_none() {
                            return Err("syntax error: missing '}'".into());
                        }
                        return Err(e);
                    }
                };
                let value = self.get_env(&name);
                if self.lex.skip_unset_env && value.is_none() {
                    return Ok(format!("${{{name}{chs}{word}}}"));
                }
                let set = value.is_some();
                let value = value.unwrap_or_default();
                match ch {
                    Some('-') => {
                        if !set || (null_is_unset && value.is_empty()) {
                            Ok(word)
                        } else {
                            Ok(value)
                        }
                    }
                    Some('+') => {
                        if !set || (null_is_unset && value.is_empty()) {
                            Ok(String::new())
                        } else {
                            Ok(word)
                        }
                    }
                    Some('?') => {
                        if !set {
                            let m = if word.is_empty() {
                                "is not allowed to be unset".to_string()
                            } else {
                                word
                            };
                            return Err(format!("{name}: {m}"));
                        }
                        if null_is_unset && value.is_empty() {
                            let m = if word.is_empty() {
                                "is not allowed to be empty".to_string()
                            } else {
                                word
                            };
                            return Err(format!("{name}: {m}"));
                        }
                        Ok(value)
                    }
                    Some(m @ ('%' | '#')) => {
                        let mut word = word;
                        let greedy = word.starts_with(m);
                        if greedy {
                            word.remove(0);
                        }
                        if m == '%' {
                            crate::pattern::trim_suffix(&word, &value, greedy)
                        } else {
                            crate::pattern::trim_prefix(&word, &value, greedy)
                        }
                    }
                    _ => Err(format!("unsupported modifier ({chs}) in substitution")),
                }
            }
            Some('/') => {
                let replace_all = self.peek() == Some('/');
                if replace_all {
                    self.next();
                }
                let pattern = match self.process_stop_on(Some('/'), true) {
                    Ok((w, _)) => w,
                    Err(e) => {
                        if self.peek().is_none() {
                            return Err("syntax error: missing '/' in ${}".into());
                        }
                        return Err(e);
                    }
                };
                let replacement = match self.process_stop_on(Some('}'), true) {
                    Ok((w, _)) => w,
                    Err(e) => {
                        if self.peek().is_none() {
                            return Err("syntax error: missing '}'".into());
                        }
                        return Err(e);
                    }
                };
                let value = self.get_env(&name);
                if self.lex.skip_unset_env && value.is_none() {
                    return Ok(format!("${{{name}/{pattern}/{replacement}}}"));
                }
                crate::pattern::replace(
                    &pattern,
                    &value.unwrap_or_default(),
                    &replacement,
                    replace_all,
                )
            }
            _ => Err(format!("unsupported modifier ({chs}) in substitution")),
        }
    }

    fn process_name(&mut self) -> String {
        let mut name = String::new();
        while let Some(ch) = self.peek() {
            if name.is_empty() && ch.is_ascii_digit() {
                while let Some(d) = self.peek() {
                    if !d.is_ascii_digit() {
                        break;
                    }
                    name.push(d);
                    self.next();
                }
                return name;
            }
            if name.is_empty() && matches!(ch, '@' | '*' | '#' | '?' | '-' | '$' | '!' | '0') {
                self.next();
                return ch.to_string();
            }
            if !ch.is_alphanumeric() && ch != '_' {
                break;
            }
            name.push(ch);
            self.next();
        }
        name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "PWD" => Some("/home".into()),
            "EMPTY" => Some(String::new()),
            "SPACE" => Some("a  b".into()),
            "FILE" => Some("dir/sub/file.tar.gz".into()),
            _ => None,
        }
    }

    #[test]
    fn basic_expansion() {
        assert_eq!(expand_word("$PWD/x", '\\', &env).unwrap(), "/home/x");
        assert_eq!(expand_word("${PWD}x", '\\', &env).unwrap(), "/homex");
        assert_eq!(expand_word("'$PWD'", '\\', &env).unwrap(), "$PWD");
        assert_eq!(expand_word("\\$PWD", '\\', &env).unwrap(), "$PWD");
        assert_eq!(expand_word("`$PWD", '`', &env).unwrap(), "$PWD");
        assert_eq!(expand_word("${NOPE:-d}", '\\', &env).unwrap(), "d");
        assert_eq!(expand_word("${EMPTY-d}", '\\', &env).unwrap(), "");
        assert_eq!(expand_word("${EMPTY:-d}", '\\', &env).unwrap(), "d");
        assert_eq!(expand_word("${PWD:+set}", '\\', &env).unwrap(), "set");
    }

    #[test]
    fn errors() {
        let e = expand_word("${NOPE:?custom msg}", '\\', &env).unwrap_err();
        assert_eq!(
            e.message,
            "failed to process \"${NOPE:?custom msg}\": NOPE: custom msg"
        );
        assert!(expand_word("\"abc", '\\', &env).is_err());
        assert!(expand_word("${PWD", '\\', &env).is_err());
        assert!(expand_word("${}", '\\', &env).is_err());
    }

    #[test]
    fn patterns() {
        assert_eq!(
            expand_word("${FILE#*/}", '\\', &env).unwrap(),
            "sub/file.tar.gz"
        );
        assert_eq!(
            expand_word("${FILE##*/}", '\\', &env).unwrap(),
            "file.tar.gz"
        );
        assert_eq!(
            expand_word("${FILE%.*}", '\\', &env).unwrap(),
            "dir/sub/file.tar"
        );
        assert_eq!(
            expand_word("${FILE%%.*}", '\\', &env).unwrap(),
            "dir/sub/file"
        );
        assert_eq!(
            expand_word("${FILE/\\//_}", '\\', &env).unwrap(),
            "dir_sub/file.tar.gz"
        );
        assert_eq!(
            expand_word("${FILE//\\//_}", '\\', &env).unwrap(),
            "dir_sub_file.tar.gz"
        );
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let deep = format!("{}x{}", "${A:-".repeat(10_000), "}".repeat(10_000));
        assert!(expand_word(&deep, '\\', &env).is_err());
        let ok = format!("{}x{}", "${A:-".repeat(10), "}".repeat(10));
        assert_eq!(expand_word(&ok, '\\', &env).unwrap(), "x");
    }

    #[test]
    fn words() {
        assert_eq!(
            expand_words("x${SPACE}y \"q  r\"", '\\', &env).unwrap(),
            vec!["xa", "by", "q  r"]
        );
    }
}
