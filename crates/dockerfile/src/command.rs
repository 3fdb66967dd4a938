//! Typed instructions after variable expansion.
//!
//! Expansion happens where the Docker 20.10 classic builder expands: ADD,
//! COPY (sources, destination, --chown, --chmod, --from), ENV and LABEL
//! (names and values), ARG (names and defaults), EXPOSE (word-split), FROM
//! (image and --platform), STOPSIGNAL, USER, VOLUME and WORKDIR. RUN, CMD,
//! ENTRYPOINT, SHELL, HEALTHCHECK, MAINTAINER and ONBUILD are left raw.

use crate::duration::parse_duration;
use crate::error::Error;
use crate::flags::{FlagType, Flags};
use crate::heredoc::parse_heredoc;
use crate::lex::Lex;
use crate::parser::{Heredoc, Instruction};

/// Shell form or exec (JSON) form of a command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShellOrExec {
    /// Shell form: run through the SHELL.
    Shell(String),
    /// Exec form: the argv.
    Exec(Vec<String>),
}

/// HEALTHCHECK configuration.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HealthConfig {
    /// `["CMD", ...]` or `["CMD-SHELL", cmd]`.
    pub test: Vec<String>,
    /// Interval in nanoseconds (0 = default).
    pub interval_ns: i64,
    /// Timeout in nanoseconds (0 = default).
    pub timeout_ns: i64,
    /// Start period in nanoseconds (0 = default).
    pub start_period_ns: i64,
    /// Retries (0 = default).
    pub retries: i64,
}

/// A typed instruction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    /// FROM image [AS alias]
    From {
        /// Image reference (expanded).
        image: String,
        /// Stage name.
        alias: Option<String>,
        /// `--platform`.
        platform: Option<String>,
    },
    /// RUN
    Run {
        /// The command.
        cmd: ShellOrExec,
        /// Heredocs.
        heredocs: Vec<Heredoc>,
        /// `--network`.
        network: Option<String>,
        /// `--mount` values.
        mounts: Vec<String>,
    },
    /// CMD
    Cmd(ShellOrExec),
    /// ENTRYPOINT
    Entrypoint(ShellOrExec),
    /// ENV pairs (expanded).
    Env(Vec<(String, String)>),
    /// LABEL pairs (expanded).
    Label(Vec<(String, String)>),
    /// MAINTAINER
    Maintainer(String),
    /// EXPOSE ports (expanded).
    Expose(Vec<String>),
    /// VOLUME paths (expanded).
    Volume(Vec<String>),
    /// USER (expanded).
    User(String),
    /// WORKDIR (expanded).
    Workdir(String),
    /// ARG declarations: name, default.
    Arg(Vec<(String, Option<String>)>),
    /// ONBUILD: the raw sub-instruction text.
    Onbuild(String),
    /// STOPSIGNAL (expanded).
    StopSignal(String),
    /// SHELL argv.
    Shell(Vec<String>),
    /// HEALTHCHECK; None = NONE.
    Healthcheck(Option<HealthConfig>),
    /// COPY
    Copy {
        /// Sources (expanded).
        srcs: Vec<String>,
        /// Destination (expanded).
        dest: String,
        /// `--from`.
        from: Option<String>,
        /// `--chown`.
        chown: Option<String>,
        /// `--chmod`.
        chmod: Option<String>,
        /// `--link`.
        link: bool,
        /// Heredocs used as sources.
        heredocs: Vec<Heredoc>,
    },
    /// ADD
    Add {
        /// Sources (expanded).
        srcs: Vec<String>,
        /// Destination (expanded).
        dest: String,
        /// `--chown`.
        chown: Option<String>,
        /// `--chmod`.
        chmod: Option<String>,
        /// Heredocs used as sources.
        heredocs: Vec<Heredoc>,
    },
}

/// A variable lookup.
type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

impl Instruction {
    /// Convert to a typed [`Command`], expanding variables where Docker does.
    /// `env` gives the variables in scope (ENV + ARG values) at this point
    /// (for FROM: the global ARGs). Errors carry this instruction's line.
    pub fn command(
        &self,
        escape: char,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Command, Error> {
        self.command_inner(escape, env)
            .map_err(|e| e.with_line(self.start_line))
    }

    fn command_inner(&self, escape: char, env: Env<'_>) -> Result<Command, Error> {
        let lex = Lex::new(escape);
        let word = |w: &str| lex.process_word(w, env);
        let upper = self.keyword.to_uppercase();
        let no_flags = || Flags::parse(&self.flags, &[]);
        match self.keyword.as_str() {
            "from" => {
                let alias = parse_stage_name(&self.args)?;
                let flags = Flags::parse(&self.flags, &[("platform", FlagType::String)])?;
                let image = word(&self.args[0])?;
                if image.is_empty() {
                    return Err(Error::msg(format!(
                        "base name ({}) should not be blank",
                        self.args[0]
                    )));
                }
                let platform = flags.string("platform").map(|p| word(&p)).transpose()?;
                Ok(Command::From {
                    image,
                    alias,
                    platform,
                })
            }
            "run" => {
                let flags = Flags::parse(
                    &self.flags,
                    &[("network", FlagType::String), ("mount", FlagType::Strings)],
                )?;
                Ok(Command::Run {
                    cmd: self.shell_or_exec(),
                    heredocs: self.heredocs.clone(),
                    network: flags.string("network"),
                    mounts: flags.strings("mount"),
                })
            }
            "cmd" => {
                no_flags()?;
                Ok(Command::Cmd(self.shell_or_exec()))
            }
            "entrypoint" => {
                no_flags()?;
                Ok(Command::Entrypoint(self.shell_or_exec()))
            }
            "env" | "label" => {
                no_flags()?;
                if self.env_pairs.is_empty() {
                    return Err(at_least_one(&upper));
                }
                let mut out = Vec::new();
                for (k, v, _) in &self.env_pairs {
                    if k.is_empty() {
                        return Err(Error::msg(format!("{upper} names can not be blank")));
                    }
                    out.push((word(k)?, word(v)?));
                }
                Ok(if self.keyword == "env" {
                    Command::Env(out)
                } else {
                    Command::Label(out)
                })
            }
            "maintainer" => {
                if self.args.len() != 1 {
                    return Err(exactly_one(&upper));
                }
                no_flags()?;
                Ok(Command::Maintainer(self.args[0].clone()))
            }
            "expose" => {
                if self.args.is_empty() {
                    return Err(at_least_one(&upper));
                }
                no_flags()?;
                let mut ports = self.args.clone();
                ports.sort();
                let mut out = Vec::new();
                for p in &ports {
                    out.extend(lex.process_words(p, env)?);
                }
                Ok(Command::Expose(out))
            }
            "volume" => {
                if self.args.is_empty() {
                    return Err(at_least_one(&upper));
                }
                no_flags()?;
                let mut out = Vec::new();
                for v in &self.args {
                    let v = word(v.trim())?;
                    let v = v.trim();
                    if v.is_empty() {
                        return Err(Error::msg("VOLUME specified can not be an empty string"));
                    }
                    out.push(v.to_string());
                }
                Ok(Command::Volume(out))
            }
            "user" | "workdir" => {
                if self.args.len() != 1 {
                    return Err(exactly_one(&upper));
                }
                no_flags()?;
                let v = word(&self.args[0])?;
                Ok(if self.keyword == "user" {
                    Command::User(v)
                } else {
                    Command::Workdir(v)
                })
            }
            "stopsignal" => {
                if self.args.len() != 1 {
                    return Err(exactly_one(&upper));
                }
                Ok(Command::StopSignal(word(&self.args[0])?))
            }
            "arg" => {
                if self.env_pairs.is_empty() {
                    return Err(at_least_one(&upper));
                }
                let mut out = Vec::new();
                for (k, v, eq) in &self.env_pairs {
                    if *eq && k.is_empty() {
                        return Err(Error::msg("ARG names can not be blank"));
                    }
                    let value = if *eq { Some(word(v)?) } else { None };
                    out.push((word(k)?, value));
                }
                Ok(Command::Arg(out))
            }
            "onbuild" => self.onbuild(),
            "shell" => {
                no_flags()?;
                if self.args.is_empty() {
                    return Err(at_least_one(&upper));
                }
                if !self.json {
                    return Err(Error::msg(
                        "SHELL requires the arguments to be in JSON form",
                    ));
                }
                Ok(Command::Shell(self.args.clone()))
            }
            "healthcheck" => self.healthcheck(),
            "copy" => {
                if self.args.len() < 2 {
                    return Err(no_destination("COPY"));
                }
                let flags = Flags::parse(
                    &self.flags,
                    &[
                        ("chown", FlagType::String),
                        ("from", FlagType::String),
                        ("chmod", FlagType::String),
                        ("link", FlagType::Bool),
                    ],
                )?;
                let (srcs, dest, heredocs) = self.sources_and_dest("COPY", escape, env)?;
                Ok(Command::Copy {
                    srcs,
                    dest,
                    from: flags.string("from").map(|v| word(&v)).transpose()?,
                    chown: flags.string("chown").map(|v| word(&v)).transpose()?,
                    chmod: flags.string("chmod").map(|v| word(&v)).transpose()?,
                    link: flags.bool("link"),
                    heredocs,
                })
            }
            "add" => {
                if self.args.len() < 2 {
                    return Err(no_destination("ADD"));
                }
                let flags = Flags::parse(
                    &self.flags,
                    &[("chown", FlagType::String), ("chmod", FlagType::String)],
                )?;
                let (srcs, dest, heredocs) = self.sources_and_dest("ADD", escape, env)?;
                Ok(Command::Add {
                    srcs,
                    dest,
                    chown: flags.string("chown").map(|v| word(&v)).transpose()?,
                    chmod: flags.string("chmod").map(|v| word(&v)).transpose()?,
                    heredocs,
                })
            }
            _ => Err(Error::msg(format!(
                "unknown instruction: {}",
                self.keyword_raw
            ))),
        }
    }

    fn shell_or_exec(&self) -> ShellOrExec {
        if self.json {
            ShellOrExec::Exec(self.args.clone())
        } else {
            ShellOrExec::Shell(self.args.join(" "))
        }
    }

    fn onbuild(&self) -> Result<Command, Error> {
        if self.args.is_empty() {
            return Err(at_least_one("ONBUILD"));
        }
        Flags::parse(&self.flags, &[])?;
        let trigger = self.args[0].trim().to_uppercase();
        match trigger.as_str() {
            "ONBUILD" => {
                return Err(Error::msg(
                    "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed",
                ))
            }
            "MAINTAINER" | "FROM" => {
                return Err(Error::msg(format!(
                    "{trigger} isn't allowed as an ONBUILD trigger"
                )))
            }
            _ => {}
        }
        let orig = self.original.trim_start();
        let mut expr = match orig.get(..7) {
            Some(p) if p.eq_ignore_ascii_case("onbuild") => orig[7..].trim_start().to_string(),
            _ => orig.to_string(),
        };
        for h in &self.heredocs {
            expr.push('\n');
            expr.push_str(&h.content);
            expr.push_str(&h.name);
        }
        Ok(Command::Onbuild(expr))
    }

    fn healthcheck(&self) -> Result<Command, Error> {
        if self.args.is_empty() {
            return Err(at_least_one("HEALTHCHECK"));
        }
        let typ = self.args[0].to_uppercase();
        let rest = &self.args[1..];
        if typ == "NONE" {
            if !rest.is_empty() {
                return Err(Error::msg("HEALTHCHECK NONE takes no arguments"));
            }
            return Ok(Command::Healthcheck(None));
        }
        let flags = Flags::parse(
            &self.flags,
            &[
                ("interval", FlagType::String),
                ("timeout", FlagType::String),
                ("start-period", FlagType::String),
                ("retries", FlagType::String),
            ],
        )?;
        let test = match typ.as_str() {
            "CMD" => {
                if rest.is_empty() {
                    return Err(Error::msg("Missing command after HEALTHCHECK CMD"));
                }
                if self.json {
                    let mut t = vec!["CMD".to_string()];
                    t.extend(rest.iter().cloned());
                    t
                } else {
                    vec!["CMD-SHELL".to_string(), rest.join(" ")]
                }
            }
            _ => {
                return Err(Error::msg(format!(
                    "Unknown type {} in HEALTHCHECK (try CMD)",
                    crate::quote::go_quote(&typ)
                )))
            }
        };
        let interval = |name: &str| -> Result<i64, Error> {
            let Some(v) = flags.string(name) else {
                return Ok(0);
            };
            if v.is_empty() {
                return Ok(0);
            }
            let d = parse_duration(&v).map_err(Error::msg)?;
            if d == 0 {
                return Ok(0);
            }
            if d < 1_000_000 {
                return Err(Error::msg(format!(
                    "Interval {} cannot be less than 1ms",
                    crate::quote::go_quote(name)
                )));
            }
            Ok(d)
        };
        let mut retries = 0;
        if let Some(v) = flags.string("retries").filter(|v| !v.is_empty()) {
            let n: i64 = v.parse::<i32>().map(i64::from).map_err(|e| {
                let why = match e.kind() {
                    std::num::IntErrorKind::PosOverflow | std::num::IntErrorKind::NegOverflow => {
                        "value out of range"
                    }
                    _ => "invalid syntax",
                };
                Error::msg(format!(
                    "strconv.ParseInt: parsing {}: {why}",
                    crate::quote::go_quote(&v)
                ))
            })?;
            if n < 1 {
                return Err(Error::msg(format!(
                    "--retries must be at least 1 (not {n})"
                )));
            }
            retries = n;
        }
        Ok(Command::Healthcheck(Some(HealthConfig {
            test,
            interval_ns: interval("interval")?,
            timeout_ns: interval("timeout")?,
            start_period_ns: interval("start-period")?,
            retries,
        })))
    }

    /// Split COPY/ADD args into expanded sources, destination and heredoc
    /// sources (bodies chomped for `<<-`, expanded when the delimiter was
    /// unquoted).
    fn sources_and_dest(
        &self,
        cmd: &str,
        escape: char,
        env: Env<'_>,
    ) -> Result<(Vec<String>, String, Vec<Heredoc>), Error> {
        let lex = Lex::new(escape);
        let (srcs_raw, dest_raw) = self.args.split_at(self.args.len() - 1);
        let dest_raw = &dest_raw[0];
        if parse_heredoc(dest_raw).ok().flatten().is_some() {
            return Err(Error::msg(format!(
                "{cmd} cannot accept a heredoc as a destination"
            )));
        }
        let mut srcs = Vec::new();
        let mut heredocs = Vec::new();
        let mut body_lex = Lex::new('\\');
        body_lex.skip_quotes = true;
        for src in srcs_raw {
            match parse_heredoc(src).ok().flatten() {
                Some(h) => {
                    let found = self.heredocs.iter().find(|d| d.name == h.name);
                    let mut doc = found.cloned().unwrap_or(Heredoc {
                        name: h.name.clone(),
                        ..Heredoc::default()
                    });
                    doc.chomp = h.chomp;
                    doc.expand = h.expand;
                    doc.content = doc.body();
                    if doc.expand {
                        doc.content = body_lex.process_word(&doc.content, env)?;
                    }
                    heredocs.push(doc);
                }
                None => srcs.push(lex.process_word(src, env)?),
            }
        }
        let dest = lex.process_word(dest_raw, env)?;
        Ok((srcs, dest, heredocs))
    }
}

fn parse_stage_name(args: &[String]) -> Result<Option<String>, Error> {
    if args.len() == 3 && args[1].eq_ignore_ascii_case("as") {
        let name = args[2].to_lowercase();
        let mut chars = name.chars();
        let valid = chars.next().is_some_and(|c| c.is_ascii_lowercase())
            && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_.".contains(c));
        if !valid {
            return Err(Error::msg(format!(
                "invalid name for build stage: {}, name can't start with a number or contain symbols",
                crate::quote::go_quote(&args[2])
            )));
        }
        return Ok(Some(name));
    }
    if args.len() != 1 {
        return Err(Error::msg("FROM requires either one or three arguments"));
    }
    Ok(None)
}

fn at_least_one(cmd: &str) -> Error {
    Error::msg(format!("{cmd} requires at least one argument"))
}

fn exactly_one(cmd: &str) -> Error {
    Error::msg(format!("{cmd} requires exactly one argument"))
}

fn no_destination(cmd: &str) -> Error {
    Error::msg(format!(
        "{cmd} requires at least two arguments, but only one was provided. Destination could not be determined"
    ))
}
