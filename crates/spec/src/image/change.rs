//! The `--change` lines of `docker import` and `docker commit`: Dockerfile
//! instructions applied to an image's container config.
//!
//! As in dockerd 20.10, only CMD, ENTRYPOINT, ENV, EXPOSE, HEALTHCHECK,
//! LABEL, ONBUILD, USER, VOLUME and WORKDIR are accepted; anything else is
//! `"<instr> is not a valid change command"`. Shell forms of CMD and
//! ENTRYPOINT become `["/bin/sh", "-c", ...]`. Environment variables are
//! not substituted in the arguments (dockerd does; rarely used here).

use super::ImageSpecError;
use crate::api::{ContainerConfig, EmptyObject, HealthConfig};

/// Apply `changes` (each may hold several lines) to `config`.
pub fn apply_changes(
    config: &mut ContainerConfig,
    changes: &[String],
) -> Result<(), ImageSpecError> {
    let joined = changes.join("\n");
    let lines = logical_lines(&joined);
    // Validate every instruction first, as dockerd does, so a bad line
    // leaves the config untouched.
    let mut parsed = Vec::with_capacity(lines.len());
    for line in &lines {
        let (instr, rest) = match line.split_once(char::is_whitespace) {
            Some((i, r)) => (i.to_ascii_lowercase(), r.trim().to_string()),
            None => (line.to_ascii_lowercase(), String::new()),
        };
        if !matches!(
            instr.as_str(),
            "cmd"
                | "entrypoint"
                | "env"
                | "expose"
                | "healthcheck"
                | "label"
                | "onbuild"
                | "user"
                | "volume"
                | "workdir"
        ) {
            return Err(ImageSpecError::InvalidChangeCommand(instr));
        }
        parsed.push((instr, rest));
    }
    let mut new = config.clone();
    let mut cmd_set = false;
    for (instr, rest) in parsed {
        apply_one(&mut new, &instr, &rest, &mut cmd_set)?;
    }
    *config = new;
    Ok(())
}

fn bad(msg: impl Into<String>) -> ImageSpecError {
    ImageSpecError::BadChange(msg.into())
}

fn apply_one(
    c: &mut ContainerConfig,
    instr: &str,
    rest: &str,
    cmd_set: &mut bool,
) -> Result<(), ImageSpecError> {
    let upper = instr.to_ascii_uppercase();
    match instr {
        "cmd" => {
            c.cmd = Some(command_form(rest));
            *cmd_set = true;
        }
        "entrypoint" => {
            c.entrypoint = Some(command_form(rest));
            if !*cmd_set {
                c.cmd = None;
            }
        }
        "env" => {
            for (k, v) in name_values(rest, &upper)? {
                let env = c.env.get_or_insert_with(Vec::new);
                let entry = format!("{k}={v}");
                match env
                    .iter_mut()
                    .find(|e| e.split('=').next() == Some(k.as_str()))
                {
                    Some(e) => *e = entry,
                    None => env.push(entry),
                }
            }
        }
        "label" => {
            for (k, v) in name_values(rest, &upper)? {
                c.labels.get_or_insert_with(Default::default).insert(k, v);
            }
        }
        "expose" => {
            if rest.is_empty() {
                return Err(bad("EXPOSE requires at least one argument"));
            }
            for p in rest.split_whitespace() {
                for port in expand_port(p)? {
                    c.exposed_ports
                        .get_or_insert_with(Default::default)
                        .insert(port, EmptyObject {});
                }
            }
        }
        "volume" => {
            let vols = match json_array(rest) {
                Some(v) => v,
                None => rest.split_whitespace().map(str::to_string).collect(),
            };
            if vols.is_empty() {
                return Err(bad("VOLUME requires at least one argument"));
            }
            for v in vols {
                let v = v.trim().to_string();
                if v.is_empty() {
                    return Err(bad("VOLUME specified can not be an empty string"));
                }
                c.volumes
                    .get_or_insert_with(Default::default)
                    .insert(v, EmptyObject {});
            }
        }
        "user" => {
            if rest.is_empty() {
                return Err(bad("USER requires exactly one argument"));
            }
            c.user = rest.to_string();
        }
        "workdir" => {
            if rest.is_empty() {
                return Err(bad("WORKDIR requires exactly one argument"));
            }
            let base = if c.working_dir.is_empty() {
                "/"
            } else {
                c.working_dir.as_str()
            };
            c.working_dir = join_clean(base, rest);
        }
        "onbuild" => {
            let first = rest
                .split_whitespace()
                .next()
                .unwrap_or("")
                .to_ascii_uppercase();
            match first.as_str() {
                "" => return Err(bad("ONBUILD requires at least one argument")),
                "ONBUILD" => {
                    return Err(bad("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed"))
                }
                "FROM" | "MAINTAINER" => {
                    return Err(bad(format!("{first} isn't allowed as an ONBUILD trigger")))
                }
                _ => {}
            }
            c.on_build
                .get_or_insert_with(Vec::new)
                .push(rest.to_string());
        }
        "healthcheck" => c.healthcheck = Some(healthcheck(rest)?),
        _ => return Err(ImageSpecError::InvalidChangeCommand(instr.to_string())),
    }
    Ok(())
}

/// Join continuation lines (`\` at the end), drop blanks and comments.
fn logical_lines(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for raw in text.lines() {
        let t = raw.trim();
        if cur.is_empty() && (t.is_empty() || t.starts_with('#')) {
            continue;
        }
        if let Some(stripped) = t.strip_suffix('\\') {
            cur.push_str(stripped);
            cur.push(' ');
            continue;
        }
        cur.push_str(t);
        out.push(std::mem::take(&mut cur).trim().to_string());
    }
    if !cur.trim().is_empty() {
        out.push(cur.trim().to_string());
    }
    out
}

/// A JSON array of strings, if `s` is one.
fn json_array(s: &str) -> Option<Vec<String>> {
    if !s.starts_with('[') {
        return None;
    }
    serde_json::from_str::<Vec<String>>(s).ok()
}

/// Exec form (JSON array) or shell form (`/bin/sh -c`).
fn command_form(rest: &str) -> Vec<String> {
    json_array(rest).unwrap_or_else(|| vec!["/bin/sh".into(), "-c".into(), rest.to_string()])
}

/// `KEY value` (legacy) or `K=V K2="v 2"` pairs, quotes removed.
fn name_values(rest: &str, instr: &str) -> Result<Vec<(String, String)>, ImageSpecError> {
    if rest.is_empty() {
        return Err(bad(format!("{instr} requires at least one argument")));
    }
    let first = rest.split_whitespace().next().unwrap_or("");
    if !first.contains('=') {
        let (k, v) = match rest.split_once(char::is_whitespace) {
            Some((k, v)) => (k, unquote(v.trim())?.join(" ")),
            None => return Err(bad(format!("{instr} must have two arguments"))),
        };
        return Ok(vec![(k.to_string(), v)]);
    }
    let mut out = Vec::new();
    for word in unquote(rest)? {
        let (k, v) = word.split_once('=').ok_or_else(|| {
            bad(format!(
                "Syntax error - can't find = in {word:?}. Must be of the form: name=value"
            ))
        })?;
        if k.is_empty() {
            return Err(bad(format!("{instr} names can not be blank")));
        }
        out.push((k.to_string(), v.to_string()));
    }
    Ok(out)
}

/// Split on unquoted whitespace, removing quotes and backslash escapes.
fn unquote(s: &str) -> Result<Vec<String>, ImageSpecError> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut in_word = false;
    let mut chars = s.chars();
    while let Some(ch) = chars.next() {
        match ch {
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            '\\' => {
                in_word = true;
                if let Some(n) = chars.next() {
                    cur.push(n);
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(c) => cur.push(c),
                        None => return Err(bad(
                            "unexpected end of statement while looking for matching single-quote",
                        )),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c) if c == '"' || c == '\\' || c == '$' => cur.push(c),
                            Some(c) => {
                                cur.push('\\');
                                cur.push(c);
                            }
                            None => return Err(bad("unexpected end of statement while looking for matching double-quote")),
                        },
                        Some(c) => cur.push(c),
                        None => return Err(bad("unexpected end of statement while looking for matching double-quote")),
                    }
                }
            }
            c => {
                in_word = true;
                cur.push(c);
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    Ok(words)
}

/// `80` -> `80/tcp`; `8000-8002/udp` -> three entries.
fn expand_port(p: &str) -> Result<Vec<String>, ImageSpecError> {
    let (range, proto) = match p.split_once('/') {
        Some((r, pr)) => (r, pr.to_ascii_lowercase()),
        None => (p, "tcp".to_string()),
    };
    if !matches!(proto.as_str(), "tcp" | "udp" | "sctp") {
        return Err(bad(format!("Invalid proto: {proto}")));
    }
    let parse = |s: &str| {
        s.parse::<u16>()
            .map_err(|_| bad(format!("Invalid containerPort: {range}")))
    };
    let (lo, hi) = match range.split_once('-') {
        Some((a, b)) => (parse(a)?, parse(b)?),
        None => {
            let v = parse(range)?;
            (v, v)
        }
    };
    if hi < lo {
        return Err(bad(format!(
            "Invalid range specified for the Port: {range}"
        )));
    }
    Ok((lo..=hi).map(|n| format!("{n}/{proto}")).collect())
}

/// Join `rel` onto `base` (unless absolute) and clean `.`/`..`.
fn join_clean(base: &str, rel: &str) -> String {
    let full = if rel.starts_with('/') {
        rel.to_string()
    } else {
        format!("{base}/{rel}")
    };
    let mut parts: Vec<&str> = Vec::new();
    for comp in full.split('/') {
        match comp {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    format!("/{}", parts.join("/"))
}

fn healthcheck(rest: &str) -> Result<HealthConfig, ImageSpecError> {
    let mut hc = HealthConfig::default();
    let mut s = rest.trim();
    if s.eq_ignore_ascii_case("none") {
        hc.test = Some(vec!["NONE".into()]);
        return Ok(hc);
    }
    while let Some(flag) = s.strip_prefix("--") {
        let (word, after) = flag.split_once(char::is_whitespace).unwrap_or((flag, ""));
        let (name, value) = word
            .split_once('=')
            .ok_or_else(|| bad(format!("HEALTHCHECK flag --{word} needs a value")))?;
        match name {
            "interval" => hc.interval = go_duration(value)?,
            "timeout" => hc.timeout = go_duration(value)?,
            "start-period" => hc.start_period = go_duration(value)?,
            "retries" => {
                hc.retries = value
                    .parse()
                    .map_err(|_| bad(format!("invalid value for --retries: {value}")))?
            }
            _ => return Err(bad(format!("Unknown flag: {name}"))),
        }
        s = after.trim_start();
    }
    let (kw, args) = s.split_once(char::is_whitespace).unwrap_or((s, ""));
    if !kw.eq_ignore_ascii_case("cmd") {
        return Err(bad(format!(
            "Unknown type {:?} in HEALTHCHECK (try CMD)",
            kw.to_ascii_uppercase()
        )));
    }
    let args = args.trim();
    if args.is_empty() {
        return Err(bad("Missing command after HEALTHCHECK CMD"));
    }
    hc.test = Some(match json_array(args) {
        Some(mut v) => {
            v.insert(0, "CMD".into());
            v
        }
        None => vec!["CMD-SHELL".into(), args.to_string()],
    });
    Ok(hc)
}

/// Go's `time.ParseDuration` (e.g. `1m30s`, `500ms`), in nanoseconds.
fn go_duration(s: &str) -> Result<i64, ImageSpecError> {
    let err = || bad(format!("time: invalid duration {s:?}"));
    if s == "0" {
        return Ok(0);
    }
    let mut total = 0f64;
    let mut rest = s;
    if rest.is_empty() {
        return Err(err());
    }
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(err)?;
        if num_len == 0 {
            return Err(err());
        }
        let n: f64 = rest[..num_len].parse().map_err(|_| err())?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let mult = match &rest[..unit_len] {
            "ns" => 1.0,
            "us" | "µs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return Err(err()),
        };
        total += n * mult;
        rest = &rest[unit_len..];
    }
    Ok(total as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apply(lines: &[&str]) -> Result<ContainerConfig, ImageSpecError> {
        let mut c = ContainerConfig::default();
        apply_changes(
            &mut c,
            &lines.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
        )?;
        Ok(c)
    }

    fn v(s: &[&str]) -> Option<Vec<String>> {
        Some(s.iter().map(|x| x.to_string()).collect())
    }

    #[test]
    fn cmd_and_entrypoint_forms() {
        let c = apply(&["CMD echo hi"]).unwrap();
        assert_eq!(c.cmd, v(&["/bin/sh", "-c", "echo hi"]));
        let c = apply(&[r#"cmd ["a", "b"]"#]).unwrap();
        assert_eq!(c.cmd, v(&["a", "b"]));
        let c = apply(&["ENTRYPOINT [bad json"]).unwrap();
        assert_eq!(c.entrypoint, v(&["/bin/sh", "-c", "[bad json"]));
        let c = apply(&[r#"CMD ["x"]"#, r#"ENTRYPOINT ["/e"]"#]).unwrap();
        assert_eq!(c.cmd, v(&["x"]));
        assert_eq!(c.entrypoint, v(&["/e"]));
    }

    #[test]
    fn entrypoint_without_cmd_clears_inherited_cmd() {
        let mut c = ContainerConfig {
            cmd: v(&["old"]),
            ..Default::default()
        };
        apply_changes(&mut c, &[r#"ENTRYPOINT ["/e"]"#.to_string()]).unwrap();
        assert_eq!(c.cmd, None);
    }

    #[test]
    fn env_label_forms() {
        let c = apply(&[r#"ENV A=1 B="2 3""#, "ENV C d e", "ENV A=9"]).unwrap();
        assert_eq!(c.env, v(&["A=9", "B=2 3", "C=d e"]));
        let c = apply(&["LABEL a=b c='d e'"]).unwrap();
        let labels = c.labels.unwrap();
        assert_eq!(labels["a"], "b");
        assert_eq!(labels["c"], "d e");
        assert!(apply(&["ENV A=1 B"]).is_err());
        assert!(apply(&["ENV"]).is_err());
    }

    #[test]
    fn expose_volume_user_workdir_onbuild() {
        let c = apply(&[
            "EXPOSE 80 443/udp 8000-8001",
            "VOLUME /a /b",
            r#"VOLUME ["/c"]"#,
            "USER 1:2",
            "WORKDIR rel",
            "WORKDIR sub/../x",
            "ONBUILD RUN x",
        ])
        .unwrap();
        let ports: Vec<_> = c.exposed_ports.unwrap().into_keys().collect();
        assert_eq!(ports, ["443/udp", "80/tcp", "8000/tcp", "8001/tcp"]);
        let vols: Vec<_> = c.volumes.unwrap().into_keys().collect();
        assert_eq!(vols, ["/a", "/b", "/c"]);
        assert_eq!(c.user, "1:2");
        assert_eq!(c.working_dir, "/rel/x");
        assert_eq!(c.on_build, v(&["RUN x"]));
        assert!(apply(&["EXPOSE abc"]).is_err());
    }

    #[test]
    fn healthcheck_forms() {
        let c = apply(&["HEALTHCHECK CMD true"]).unwrap();
        assert_eq!(c.healthcheck.unwrap().test, v(&["CMD-SHELL", "true"]));
        let c = apply(&[r#"HEALTHCHECK --interval=1m30s --retries=3 CMD ["a"]"#]).unwrap();
        let h = c.healthcheck.unwrap();
        assert_eq!(h.test, v(&["CMD", "a"]));
        assert_eq!(h.interval, 90_000_000_000);
        assert_eq!(h.retries, 3);
        assert_eq!(
            apply(&["HEALTHCHECK NONE"])
                .unwrap()
                .healthcheck
                .unwrap()
                .test,
            v(&["NONE"])
        );
    }

    #[test]
    fn unsupported_instructions_give_dockers_error() {
        for (line, name) in [
            ("RUN true", "run"),
            ("STOPSIGNAL 9", "stopsignal"),
            ("FROM x", "from"),
            ("MAINTAINER me", "maintainer"),
        ] {
            assert_eq!(
                apply(&[line]).unwrap_err().to_string(),
                format!("{name} is not a valid change command")
            );
        }
        // A bad line leaves the config untouched.
        let mut c = ContainerConfig::default();
        assert!(apply_changes(&mut c, &["USER x".into(), "RUN y".into()]).is_err());
        assert_eq!(c.user, "");
    }

    #[test]
    fn comments_blank_lines_and_continuations() {
        let c = apply(&["# comment\n\nCMD echo \\\n  hi"]).unwrap();
        assert_eq!(c.cmd, v(&["/bin/sh", "-c", "echo  hi"]));
    }
}
