//! Conformance S-expression dump of a parsed Dockerfile (buildkit's
//! `Node.Dump`): `(copy ["--from=a"] "src" "dst")`, one line per instruction.

use crate::parser::{Dockerfile, Instruction};
use crate::quote::{go_quote, go_quote_list};

fn dump_instruction(inst: &Instruction) -> String {
    let mut s = inst.keyword.clone();
    if !inst.flags.is_empty() {
        s.push(' ');
        s.push_str(&go_quote_list(&inst.flags));
    }
    match &inst.sub {
        Some(sub) => {
            s.push_str(" (");
            s.push_str(&dump_instruction(sub));
            s.push(')');
        }
        None => {
            for a in &inst.args {
                s.push(' ');
                s.push_str(&go_quote(a));
            }
        }
    }
    s.trim().to_string()
}

/// Dump as the conformance S-expressions (one line per instruction, each
/// line ending with a newline).
pub fn dump(df: &Dockerfile) -> String {
    let mut out = String::new();
    for inst in &df.instructions {
        out.push('(');
        out.push_str(&dump_instruction(inst));
        out.push_str(")\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use crate::{dump, parse};

    #[test]
    fn dumps() {
        let df = parse("FROM a\nONBUILD RUN [\"x\"]\nENV a=b c d\n").unwrap_err();
        assert!(df.message.contains("can't find ="));
        let df = parse("FROM a\nONBUILD RUN [\"x\"]\nCOPY --from=b x y\n").unwrap();
        assert_eq!(
            dump(&df),
            "(from \"a\")\n(onbuild (run \"x\"))\n(copy [\"--from=b\"] \"x\" \"y\")\n"
        );
    }
}
