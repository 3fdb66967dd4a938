//! Dockerfile parsing into raw instructions (buildkit's parser semantics):
//! parser directives, escape tokens, line continuations, comments, per
//! instruction argument parsing and heredocs.

use crate::directives::Directives;
use crate::error::Error;
use crate::heredoc::heredocs_from_line;
use crate::line_parsers::{dispatch, split_command};

/// A parsed Dockerfile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dockerfile {
    /// The escape character (`\` unless `# escape=` says otherwise).
    pub escape: char,
    /// The `# syntax=` directive, if any.
    pub syntax: Option<String>,
    /// Instructions in file order.
    pub instructions: Vec<Instruction>,
    /// Non-fatal warnings (e.g. empty continuation lines).
    pub warnings: Vec<String>,
}

/// One raw instruction, before variable expansion.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Instruction {
    /// Lower-case keyword: "from", "run", ...
    pub keyword: String,
    /// The instruction as written, continuations joined as Docker prints it
    /// in `Step 2/5 : RUN echo hi` (surrounding blanks trimmed).
    pub original: String,
    /// 1-based first line.
    pub start_line: usize,
    /// 1-based last line (including heredoc bodies).
    pub end_line: usize,
    /// Raw flags, e.g. `--from=builder`.
    pub flags: Vec<String>,
    /// Raw arguments as in the S-expression dump (JSON form decoded). For
    /// ENV/LABEL these are (name, value, "=" or "") triples flattened; for
    /// ONBUILD the sub-instruction's keyword (as written) then its args.
    pub args: Vec<String>,
    /// Exec (JSON array) form.
    pub json: bool,
    /// Heredocs attached to RUN/COPY/ADD (or to ONBUILD's sub-instruction).
    pub heredocs: Vec<Heredoc>,
    /// ENV/LABEL pairs: (name, raw value, had '='); ARG: (name, raw default
    /// or "", had '=').
    pub env_pairs: Vec<(String, String, bool)>,
    /// ONBUILD's sub-instruction.
    pub sub: Option<Box<Instruction>>,
    /// The keyword exactly as written (e.g. "RUN" or "run").
    pub keyword_raw: String,
}

/// A heredoc (`<<EOF ... EOF`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Heredoc {
    /// The delimiter word (quotes removed).
    pub name: String,
    /// The raw body: the lines between the instruction and the delimiter,
    /// each with its newline. Use [`Heredoc::body`] to apply `<<-` chomping.
    pub content: String,
    /// Whether variables are expanded in the body (unquoted delimiter).
    pub expand: bool,
    /// `<<-`: leading tabs are stripped from every line of the body.
    pub chomp: bool,
}

impl Heredoc {
    /// The body with leading tabs removed from each line when `chomp` is set.
    pub fn body(&self) -> String {
        if !self.chomp {
            return self.content.clone();
        }
        self.content
            .split_inclusive('\n')
            .map(|l| l.trim_start_matches('\t'))
            .collect()
    }
}

/// Split `src` into lines keeping their line endings (Go's scanLines variant).
fn scan_lines(src: &str) -> Vec<&str> {
    src.split_inclusive('\n').collect()
}

fn trim_newline(s: &str) -> &str {
    s.trim_end_matches(['\r', '\n'])
}

fn is_comment(line: &str) -> bool {
    line.trim_start().starts_with('#')
}

fn is_empty_continuation_line(line: &str) -> bool {
    trim_newline(line).trim_start().is_empty()
}

/// Remove a trailing line-continuation escape token. Returns the line and
/// whether the instruction ends here (no continuation).
fn trim_continuation(line: &str, escape: char) -> (String, bool) {
    let body = line.trim_end_matches([' ', '\t']);
    if let Some(before) = body.strip_suffix(escape) {
        let prev = before.chars().last();
        if prev.is_none() || prev != Some(escape) {
            return (before.to_string(), false);
        }
    }
    (line.to_string(), true)
}

/// Parse a Dockerfile. Errors carry the 1-based line.
pub fn parse(src: &str) -> Result<Dockerfile, Error> {
    let src = src.strip_prefix('\u{feff}').unwrap_or(src);
    let lines = scan_lines(src);
    let mut d = Directives::new();
    let mut instructions = Vec::new();
    let mut warnings = Vec::new();
    let mut current_line = 0usize;
    let mut idx = 0usize;

    while idx < lines.len() {
        let raw = lines[idx];
        idx += 1;
        let token = trim_newline(raw).trim_start();
        d.possible_directive(token)
            .map_err(|e| Error::at(current_line + 1, e))?;
        let processed = if is_comment(token) { "" } else { token };
        current_line += 1;
        let start_line = current_line;
        let (first, mut end_of_line) = trim_continuation(processed, d.escape);
        if end_of_line && first.is_empty() {
            continue;
        }
        let mut buf = first;
        let mut has_empty_continuation = false;
        while !end_of_line && idx < lines.len() {
            let raw = lines[idx];
            idx += 1;
            let token = trim_newline(raw);
            d.possible_directive(token)
                .map_err(|e| Error::at(current_line + 1, e))?;
            current_line += 1;
            if is_comment(raw) {
                continue;
            }
            if is_empty_continuation_line(token) {
                has_empty_continuation = true;
                continue;
            }
            let (part, eol) = trim_continuation(token, d.escape);
            end_of_line = eol;
            buf.push_str(&part);
        }
        if has_empty_continuation {
            warnings.push(format!("Empty continuation line found in: {buf}"));
        }

        let mut inst = new_instruction(&buf, d.escape).map_err(|e| e.with_line(start_line))?;

        if can_contain_heredoc(&inst) && buf.contains("<<") {
            let docs = heredocs_from_line(&buf).map_err(|e| Error::at(start_line, e))?;
            for mut doc in docs {
                let mut content = String::new();
                let mut terminated = false;
                while idx < lines.len() {
                    let raw = lines[idx];
                    idx += 1;
                    current_line += 1;
                    let mut possible = trim_newline(raw);
                    if doc.chomp {
                        possible = possible.trim_start_matches('\t');
                    }
                    if possible == doc.name {
                        terminated = true;
                        break;
                    }
                    content.push_str(raw);
                }
                if !terminated {
                    return Err(Error::at(start_line, "unterminated heredoc"));
                }
                doc.content = content;
                inst.heredocs.push(doc);
            }
        }
        inst.start_line = start_line;
        inst.end_line = current_line;
        if let Some(sub) = inst.sub.as_mut() {
            sub.start_line = start_line;
            sub.end_line = current_line;
        }
        instructions.push(inst);
    }

    if instructions.is_empty() {
        return Err(Error::at(current_line.max(1), "file with no instructions"));
    }
    Ok(Dockerfile {
        escape: d.escape,
        syntax: d.syntax.clone(),
        instructions,
        warnings,
    })
}

fn can_contain_heredoc(inst: &Instruction) -> bool {
    let target = match (inst.keyword.as_str(), inst.sub.as_deref()) {
        ("onbuild", Some(sub)) => sub,
        _ => inst,
    };
    matches!(target.keyword.as_str(), "add" | "copy" | "run") && !target.json
}

/// Build an instruction from one logical line (no line numbers yet).
pub(crate) fn new_instruction(line: &str, escape: char) -> Result<Instruction, Error> {
    new_instruction_at(line, escape, 0)
}

/// [`new_instruction`] at ONBUILD nesting `depth`.
pub(crate) fn new_instruction_at(
    line: &str,
    escape: char,
    depth: usize,
) -> Result<Instruction, Error> {
    let (cmd, flags, args) = split_command(line, escape);
    let keyword = cmd.to_lowercase();
    let parsed = dispatch(&keyword, &args, escape, depth)?;
    Ok(Instruction {
        keyword,
        keyword_raw: cmd,
        original: line.trim().to_string(),
        start_line: 0,
        end_line: 0,
        flags,
        args: parsed.args,
        json: parsed.json,
        heredocs: Vec::new(),
        env_pairs: parsed.env_pairs,
        sub: parsed.sub,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continuation_and_original() {
        let df = parse("FROM busybox\nRUN echo a \\\n  b # not a comment\n").unwrap();
        assert_eq!(df.instructions.len(), 2);
        let run = &df.instructions[1];
        assert_eq!(run.original, "RUN echo a   b # not a comment");
        assert_eq!((run.start_line, run.end_line), (2, 3));
        assert_eq!(run.args, vec!["echo a   b # not a comment"]);
    }

    #[test]
    fn original_matches_docker_step_lines() {
        // Step lines printed by Docker 20.10 for this file.
        let src = "FROM busybox:local\n   run echo a \\\n# comment\n    b   \\\n\n  c\nENV  A=1   B=\"x y\"  \nCMD   [\"sh\",  \"-c\"]   \nLABEL a=b \\\n  c=d\n";
        let df = parse(src).unwrap();
        let originals: Vec<&str> = df
            .instructions
            .iter()
            .map(|i| i.original.as_str())
            .collect();
        assert_eq!(
            originals,
            vec![
                "FROM busybox:local",
                "run echo a     b     c",
                "ENV  A=1   B=\"x y\"",
                "CMD   [\"sh\",  \"-c\"]",
                "LABEL a=b   c=d",
            ]
        );
        assert_eq!(df.instructions[1].keyword, "run");
        assert_eq!(
            (df.instructions[1].start_line, df.instructions[1].end_line),
            (2, 6)
        );
    }

    #[test]
    fn empty_continuation_warns() {
        let df = parse("FROM x\nRUN a \\\n\n b\n").unwrap();
        assert_eq!(df.instructions[1].args, vec!["a  b"]);
        assert_eq!(df.warnings.len(), 1);
    }

    #[test]
    fn no_instructions() {
        let e = parse("# only\n\n").unwrap_err();
        assert_eq!(e.message, "file with no instructions");
        assert!(parse("").is_err());
    }

    #[test]
    fn escape_directive() {
        let df = parse("# escape=`\nFROM x\nRUN a `\n b\n").unwrap();
        assert_eq!(df.escape, '`');
        assert_eq!(df.instructions[1].args, vec!["a  b"]);
        let e = parse("# escape=x\nFROM x\n").unwrap_err();
        assert_eq!(e.line, Some(1));
        let e = parse("# escape=`\n# escape=`\nFROM x\n").unwrap_err();
        assert_eq!(e.message, "only one escape parser directive can be used");
    }

    #[test]
    fn syntax_directive() {
        let df = parse("# syntax=docker/dockerfile:1\nFROM x\n").unwrap();
        assert_eq!(df.syntax.as_deref(), Some("docker/dockerfile:1"));
        let df = parse("FROM x\n# syntax=docker/dockerfile:1\n").unwrap();
        assert_eq!(df.syntax, None);
    }

    #[test]
    fn heredocs() {
        let src = "FROM x\nRUN <<EOF\necho $A\nEOF\nCOPY <<-\"FILE\" /f\n\thello\n\tFILE\nRUN echo done\n";
        let df = parse(src).unwrap();
        assert_eq!(df.instructions.len(), 4);
        let run = &df.instructions[1];
        assert_eq!(run.heredocs.len(), 1);
        assert_eq!(run.heredocs[0].name, "EOF");
        assert_eq!(run.heredocs[0].content, "echo $A\n");
        assert!(run.heredocs[0].expand);
        assert_eq!((run.start_line, run.end_line), (2, 4));
        let copy = &df.instructions[2];
        assert_eq!(copy.heredocs[0].name, "FILE");
        assert!(!copy.heredocs[0].expand);
        assert!(copy.heredocs[0].chomp);
        assert_eq!(copy.heredocs[0].body(), "hello\n");
        assert_eq!(df.instructions[3].start_line, 8);
        let e = parse("FROM x\nRUN <<EOF\nno end\n").unwrap_err();
        assert_eq!(e.message, "unterminated heredoc");
    }

    #[test]
    fn deep_onbuild_is_an_error() {
        let line = format!("FROM x\n{}RUN x\n", "ONBUILD ".repeat(10_000));
        assert!(parse(&line).is_err());
        let df = parse("FROM x\nONBUILD ONBUILD RUN x\n").unwrap();
        assert_eq!(
            crate::dump(&df),
            "(from \"x\")\n(onbuild (onbuild (run \"x\")))\n"
        );
    }

    #[test]
    fn exec_form_no_heredoc() {
        let df = parse("FROM x\nRUN [\"sh\", \"-c\", \"cat <<EOF\"]\nRUN echo\n").unwrap();
        assert!(df.instructions[1].heredocs.is_empty());
        assert_eq!(df.instructions.len(), 3);
    }
}
