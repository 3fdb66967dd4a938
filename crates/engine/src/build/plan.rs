//! Splitting a Dockerfile into stages, the meta ARGs before the first
//! FROM, the `--target`, and which stages the target needs.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use berth_dockerfile::{Dockerfile, Instruction};

use super::{parse_error, BuildOptions};
use crate::error::{EngineError, Result};

/// Build args dockerd accepts without an ARG (proxies), never reported
/// as unconsumed.
pub(crate) const PREDEFINED_ARGS: &[&str] = &[
    "HTTP_PROXY",
    "http_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "FTP_PROXY",
    "ftp_proxy",
    "NO_PROXY",
    "no_proxy",
    "ALL_PROXY",
    "all_proxy",
];

/// Every instruction the builder knows.
const KNOWN: &[&str] = &[
    "from",
    "run",
    "cmd",
    "entrypoint",
    "env",
    "label",
    "maintainer",
    "expose",
    "volume",
    "user",
    "workdir",
    "arg",
    "onbuild",
    "stopsignal",
    "shell",
    "healthcheck",
    "copy",
    "add",
];

/// One stage: its instructions, FROM first.
#[derive(Debug, Clone)]
pub(crate) struct StagePlan {
    /// `FROM ... AS name`, lower case.
    pub name: Option<String>,
    /// FROM and everything up to the next FROM.
    pub instructions: Vec<Instruction>,
}

/// What to run.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    /// All stages, in file order.
    pub stages: Vec<StagePlan>,
    /// Indices of the stages to run, in order.
    pub run: Vec<usize>,
    /// ARGs before the first FROM, with their values.
    pub meta_args: BTreeMap<String, Option<String>>,
    /// The ARG instructions before the first FROM (printed as steps).
    pub meta: Vec<Instruction>,
}

/// The raw `--from=` of a COPY.
fn copy_from(inst: &Instruction) -> Option<String> {
    inst.flags
        .iter()
        .find_map(|f| f.strip_prefix("--from=").map(|v| v.to_string()))
}

/// The stage name of a FROM (`FROM img AS name`), lower case.
fn stage_name(inst: &Instruction) -> Option<String> {
    match inst.args.as_slice() {
        [_, kw, name] if kw.eq_ignore_ascii_case("as") => Some(name.to_ascii_lowercase()),
        _ => None,
    }
}

/// Plan a build of `df`.
pub(crate) fn plan(df: &Dockerfile, target: Option<&str>, opts: &BuildOptions) -> Result<Plan> {
    if df.instructions.is_empty() {
        return Err(EngineError::invalid(
            "failed to parse Dockerfile: file with no instructions",
        ));
    }
    for inst in &df.instructions {
        if !KNOWN.contains(&inst.keyword.as_str()) {
            return Err(EngineError::invalid(format!(
                "dockerfile parse error line {}: unknown instruction: {}",
                inst.start_line,
                inst.keyword.to_ascii_uppercase()
            )));
        }
    }
    let mut meta_args: BTreeMap<String, Option<String>> = BTreeMap::new();
    let mut stages: Vec<StagePlan> = Vec::new();
    let mut meta: Vec<Instruction> = Vec::new();
    for inst in &df.instructions {
        if inst.keyword == "from" {
            stages.push(StagePlan {
                name: stage_name(inst),
                instructions: vec![inst.clone()],
            });
        } else if let Some(s) = stages.last_mut() {
            s.instructions.push(inst.clone());
        } else if inst.keyword == "arg" {
            meta.push(inst.clone());
            let vars: HashMap<String, String> = meta_args
                .iter()
                .filter_map(|(k, v)| v.clone().map(|v| (k.clone(), v)))
                .collect();
            let lookup = |k: &str| vars.get(k).cloned();
            let cmd = inst
                .command(df.escape, &lookup)
                .map_err(|e| parse_error(e.with_line(inst.start_line)))?;
            if let berth_dockerfile::Command::Arg(pairs) = cmd {
                for (name, default) in pairs {
                    let value = match opts.build_args.get(&name) {
                        Some(Some(v)) => Some(v.clone()),
                        _ => default,
                    };
                    meta_args.insert(name, value);
                }
            }
        } else {
            return Err(EngineError::invalid(format!(
                "dockerfile parse error line {}: no build stage in current context",
                inst.start_line
            )));
        }
    }
    if stages.is_empty() {
        return Err(EngineError::invalid(
            "dockerfile parse error line 1: no build stage in current context",
        ));
    }
    let last = match target.filter(|t| !t.is_empty()) {
        Some(t) => {
            let t = t.to_ascii_lowercase();
            stages
                .iter()
                .position(|s| s.name.as_deref() == Some(t.as_str()))
                .ok_or_else(|| {
                    EngineError::invalid(format!("failed to reach build target {t} in Dockerfile"))
                })?
        }
        None => stages.len() - 1,
    };
    let run = needed(&stages, last, &meta_args);
    Ok(Plan {
        stages,
        run,
        meta_args,
        meta,
    })
}

/// The stages `last` depends on (FROM <stage>, COPY --from=<stage|index>),
/// itself included, in file order.
fn needed(
    stages: &[StagePlan],
    last: usize,
    meta_args: &BTreeMap<String, Option<String>>,
) -> Vec<usize> {
    let index_of = |name: &str, before: usize| -> Option<usize> {
        let lname = name.to_ascii_lowercase();
        if let Ok(n) = name.parse::<usize>() {
            return (n < before).then_some(n);
        }
        stages[..before]
            .iter()
            .position(|s| s.name.as_deref() == Some(lname.as_str()))
    };
    let vars: HashMap<String, String> = meta_args
        .iter()
        .filter_map(|(k, v)| v.clone().map(|v| (k.clone(), v)))
        .collect();
    let lookup = |k: &str| vars.get(k).cloned();
    let mut want: BTreeSet<usize> = BTreeSet::new();
    let mut todo = vec![last];
    while let Some(i) = todo.pop() {
        if !want.insert(i) {
            continue;
        }
        for inst in &stages[i].instructions {
            let dep = if inst.keyword == "from" {
                inst.args.first().and_then(|raw| {
                    let img = berth_dockerfile::expand_word(raw, '\\', &lookup)
                        .unwrap_or_else(|_| raw.clone());
                    if img.parse::<usize>().is_ok() {
                        None
                    } else {
                        index_of(&img, i)
                    }
                })
            } else if inst.keyword == "copy" {
                copy_from(inst).and_then(|f| index_of(&f, i))
            } else {
                None
            };
            if let Some(d) = dep {
                todo.push(d);
            }
        }
    }
    want.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inst(keyword: &str, args: &[&str], flags: &[&str]) -> Instruction {
        Instruction {
            keyword: keyword.into(),
            original: format!("{} {}", keyword.to_uppercase(), args.join(" ")),
            args: args.iter().map(|s| s.to_string()).collect(),
            flags: flags.iter().map(|s| s.to_string()).collect(),
            ..Instruction::default()
        }
    }

    fn stage(name: Option<&str>, rest: Vec<Instruction>, from: &str) -> StagePlan {
        let mut instructions = vec![match name {
            Some(n) => inst("from", &[from, "AS", n], &[]),
            None => inst("from", &[from], &[]),
        }];
        instructions.extend(rest);
        StagePlan {
            name: name.map(|s| s.to_string()),
            instructions,
        }
    }

    #[test]
    fn only_needed_stages_run() {
        let stages = vec![
            stage(Some("a"), vec![inst("run", &["true"], &[])], "busybox"),
            stage(Some("unused"), vec![], "busybox"),
            stage(Some("b"), vec![], "a"),
            stage(
                None,
                vec![inst("copy", &["/x", "/y"], &["--from=b"])],
                "busybox",
            ),
        ];
        assert_eq!(needed(&stages, 3, &BTreeMap::new()), vec![0, 2, 3]);
        assert_eq!(needed(&stages, 1, &BTreeMap::new()), vec![1]);
        let stages = vec![
            stage(None, vec![], "busybox"),
            stage(
                None,
                vec![inst("copy", &["/x", "/y"], &["--from=0"])],
                "busybox",
            ),
        ];
        assert_eq!(needed(&stages, 1, &BTreeMap::new()), vec![0, 1]);
    }
}
