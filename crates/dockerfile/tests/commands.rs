//! Typed instruction conversion: expansion and Docker 20.10's errors.

use berth_dockerfile::{parse, Command, HealthConfig, ShellOrExec};

fn env(name: &str) -> Option<String> {
    match name {
        "A" => Some("alpha".into()),
        "PORTS" => Some("80 443/udp".into()),
        "EMPTY" => Some(String::new()),
        _ => None,
    }
}

/// Parse `FROM scratch\n<line>` and convert the second instruction.
fn cmd(line: &str) -> Result<Command, berth_dockerfile::Error> {
    let df = parse(&format!("FROM scratch\n{line}\n")).expect("parses");
    df.instructions[1].command(df.escape, &env)
}

fn err(line: &str) -> String {
    let e = cmd(line).unwrap_err();
    assert_eq!(e.line, Some(2), "error line for {line:?}");
    e.message
}

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

#[test]
fn from_forms() {
    let df = parse("ARG A\nFROM --platform=linux/$A img:$A AS Build\nFROM x\n").unwrap();
    assert_eq!(
        df.instructions[1].command('\\', &env).unwrap(),
        Command::From {
            image: "img:alpha".into(),
            alias: Some("build".into()),
            platform: Some("linux/alpha".into())
        }
    );
    assert_eq!(
        df.instructions[0].command('\\', &env).unwrap(),
        Command::Arg(vec![("A".into(), None)])
    );
    let bad = parse("FROM a b\n").unwrap();
    let e = bad.instructions[0].command('\\', &env).unwrap_err();
    assert_eq!(e.message, "FROM requires either one or three arguments");
    assert_eq!(e.line, Some(1));
    let bad = parse("FROM a AS 1x\n").unwrap();
    assert_eq!(
        bad.instructions[0].command('\\', &env).unwrap_err().message,
        "invalid name for build stage: \"1x\", name can't start with a number or contain symbols"
    );
    let bad = parse("FROM $NOPE\n").unwrap();
    assert_eq!(
        bad.instructions[0].command('\\', &env).unwrap_err().message,
        "base name ($NOPE) should not be blank"
    );
}

#[test]
fn run_cmd_entrypoint() {
    assert_eq!(
        cmd("RUN echo $A").unwrap(),
        Command::Run {
            cmd: ShellOrExec::Shell("echo $A".into()),
            heredocs: vec![],
            network: None,
            mounts: vec![]
        }
    );
    assert_eq!(
        cmd("RUN --network=none --mount=type=cache,target=/c [\"ls\", \"-l\"]").unwrap(),
        Command::Run {
            cmd: ShellOrExec::Exec(s(&["ls", "-l"])),
            heredocs: vec![],
            network: Some("none".into()),
            mounts: s(&["type=cache,target=/c"])
        }
    );
    assert_eq!(
        cmd("CMD [\"sh\"]").unwrap(),
        Command::Cmd(ShellOrExec::Exec(s(&["sh"])))
    );
    assert_eq!(
        cmd("ENTRYPOINT exec app").unwrap(),
        Command::Entrypoint(ShellOrExec::Shell("exec app".into()))
    );
    assert_eq!(err("CMD --foo x"), "Unknown flag: foo");
}

#[test]
fn run_heredoc() {
    let df = parse("FROM x\nRUN <<EOF\necho $A\nEOF\n").unwrap();
    match df.instructions[1].command('\\', &env).unwrap() {
        Command::Run { cmd, heredocs, .. } => {
            assert_eq!(cmd, ShellOrExec::Shell("<<EOF".into()));
            assert_eq!(heredocs.len(), 1);
            assert_eq!(heredocs[0].content, "echo $A\n");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn env_label_arg() {
    assert_eq!(
        cmd("ENV X=\"$A b\" Y=${A}-c").unwrap(),
        Command::Env(vec![
            ("X".into(), "alpha b".into()),
            ("Y".into(), "alpha-c".into())
        ])
    );
    assert_eq!(
        cmd("ENV X 'quoted $A' rest").unwrap(),
        Command::Env(vec![("X".into(), "quoted $A rest".into())])
    );
    assert_eq!(
        cmd("LABEL \"my key\"=v a.b=\"c d\"").unwrap(),
        Command::Label(vec![
            ("my key".into(), "v".into()),
            ("a.b".into(), "c d".into())
        ])
    );
    assert_eq!(
        cmd("ARG X=\"1 2\" Y Z=").unwrap(),
        Command::Arg(vec![
            ("X".into(), Some("1 2".into())),
            ("Y".into(), None),
            ("Z".into(), Some(String::new()))
        ])
    );
    assert_eq!(err("ENV"), "ENV requires at least one argument");
    assert_eq!(err("ENV =a"), "ENV names can not be blank");
    assert_eq!(err("LABEL"), "LABEL requires at least one argument");
    assert_eq!(err("ARG"), "ARG requires at least one argument");
    assert_eq!(err("ARG =a"), "ARG names can not be blank");
    assert_eq!(err("ENV --foo=1 a=b"), "Unknown flag: foo");
    assert_eq!(
        err("ENV a=${b:?oops}"),
        "failed to process \"${b:?oops}\": b: oops"
    );
    let e = parse("FROM x\nENV PATH\n").unwrap_err();
    assert_eq!(e.message, "ENV must have two arguments");
    assert_eq!(e.line, Some(2));
}

#[test]
fn simple_commands() {
    assert_eq!(
        cmd("WORKDIR /app/$A").unwrap(),
        Command::Workdir("/app/alpha".into())
    );
    assert_eq!(
        cmd("USER $A:root").unwrap(),
        Command::User("alpha:root".into())
    );
    assert_eq!(cmd("USER a b").unwrap(), Command::User("a b".into()));
    assert_eq!(
        cmd("STOPSIGNAL SIG$A").unwrap(),
        Command::StopSignal("SIGalpha".into())
    );
    assert_eq!(
        cmd("MAINTAINER me <$A@x>").unwrap(),
        Command::Maintainer("me <$A@x>".into())
    );
    assert_eq!(
        cmd("EXPOSE 8080 $PORTS").unwrap(),
        Command::Expose(s(&["80", "443/udp", "8080"]))
    );
    assert_eq!(
        cmd("VOLUME [\"/data\", \"/$A\"]").unwrap(),
        Command::Volume(s(&["/data", "/alpha"]))
    );
    assert_eq!(
        cmd("VOLUME /a /b").unwrap(),
        Command::Volume(s(&["/a", "/b"]))
    );
    assert_eq!(
        cmd("SHELL [\"/bin/bash\", \"-c\"]").unwrap(),
        Command::Shell(s(&["/bin/bash", "-c"]))
    );
    assert_eq!(err("WORKDIR"), "WORKDIR requires exactly one argument");
    assert_eq!(err("USER"), "USER requires exactly one argument");
    assert_eq!(
        err("STOPSIGNAL"),
        "STOPSIGNAL requires exactly one argument"
    );
    assert_eq!(
        err("MAINTAINER"),
        "MAINTAINER requires exactly one argument"
    );
    assert_eq!(err("EXPOSE"), "EXPOSE requires at least one argument");
    assert_eq!(
        err("VOLUME \"\""),
        "VOLUME specified can not be an empty string"
    );
    assert_eq!(
        err("SHELL sh -c"),
        "SHELL requires the arguments to be in JSON form"
    );
    assert_eq!(err("SHELL []"), "SHELL requires at least one argument");
    assert_eq!(err("FOO bar"), "unknown instruction: FOO");
}

#[test]
fn onbuild() {
    assert_eq!(
        cmd("ONBUILD RUN echo $A").unwrap(),
        Command::Onbuild("RUN echo $A".into())
    );
    assert_eq!(
        cmd("onbuild   COPY . /app").unwrap(),
        Command::Onbuild("COPY . /app".into())
    );
    assert_eq!(err("ONBUILD"), "ONBUILD requires at least one argument");
    assert_eq!(
        err("ONBUILD FROM x"),
        "FROM isn't allowed as an ONBUILD trigger"
    );
    assert_eq!(
        err("ONBUILD maintainer x"),
        "MAINTAINER isn't allowed as an ONBUILD trigger"
    );
    assert_eq!(
        err("ONBUILD ONBUILD RUN x"),
        "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed"
    );
}

#[test]
fn healthcheck() {
    assert_eq!(cmd("HEALTHCHECK NONE").unwrap(), Command::Healthcheck(None));
    assert_eq!(
        cmd("HEALTHCHECK --interval=1m30s --timeout=3s --start-period=0s --retries=3 CMD curl -f http://x/ || exit 1")
            .unwrap(),
        Command::Healthcheck(Some(HealthConfig {
            test: s(&["CMD-SHELL", "curl -f http://x/ || exit 1"]),
            interval_ns: 90_000_000_000,
            timeout_ns: 3_000_000_000,
            start_period_ns: 0,
            retries: 3
        }))
    );
    assert_eq!(
        cmd("HEALTHCHECK CMD [\"/check\", \"-q\"]").unwrap(),
        Command::Healthcheck(Some(HealthConfig {
            test: s(&["CMD", "/check", "-q"]),
            ..HealthConfig::default()
        }))
    );
    assert_eq!(
        err("HEALTHCHECK"),
        "HEALTHCHECK requires at least one argument"
    );
    assert_eq!(
        err("HEALTHCHECK NONE x"),
        "HEALTHCHECK NONE takes no arguments"
    );
    assert_eq!(
        err("HEALTHCHECK CMD"),
        "Missing command after HEALTHCHECK CMD"
    );
    assert_eq!(
        err("HEALTHCHECK CONNECT x"),
        "Unknown type \"CONNECT\" in HEALTHCHECK (try CMD)"
    );
    assert_eq!(
        err("HEALTHCHECK --interval=1x CMD true"),
        "time: unknown unit \"x\" in duration \"1x\""
    );
    assert_eq!(
        err("HEALTHCHECK --interval=1ns CMD true"),
        "Interval \"interval\" cannot be less than 1ms"
    );
    assert_eq!(
        err("HEALTHCHECK --retries=0 CMD x"),
        "--retries must be at least 1 (not 0)"
    );
    assert_eq!(
        err("HEALTHCHECK --retries=x CMD x"),
        "strconv.ParseInt: parsing \"x\": invalid syntax"
    );
    assert_eq!(err("HEALTHCHECK --foo=1 CMD x"), "Unknown flag: foo");
}

#[test]
fn copy_add() {
    assert_eq!(
        cmd("COPY --from=build --chown=$A:$A --chmod=755 --link a/$A b /dst/$A/").unwrap(),
        Command::Copy {
            srcs: s(&["a/alpha", "b"]),
            dest: "/dst/alpha/".into(),
            from: Some("build".into()),
            chown: Some("alpha:alpha".into()),
            chmod: Some("755".into()),
            link: true,
            heredocs: vec![]
        }
    );
    assert_eq!(
        cmd("ADD [\"a b\", \"/c\"]").unwrap(),
        Command::Add {
            srcs: s(&["a b"]),
            dest: "/c".into(),
            chown: None,
            chmod: None,
            heredocs: vec![]
        }
    );
    assert_eq!(
        err("COPY a"),
        "COPY requires at least two arguments, but only one was provided. Destination could not be determined"
    );
    assert_eq!(
        err("ADD a"),
        "ADD requires at least two arguments, but only one was provided. Destination could not be determined"
    );
    assert_eq!(err("COPY --foo=1 a b"), "Unknown flag: foo");
    assert_eq!(err("ADD --from=x a b"), "Unknown flag: from");
    assert_eq!(err("COPY --chown a b"), "Missing a value on flag: chown");
    assert_eq!(
        err("COPY --from=x --from=y a b"),
        "Duplicate flag specified: from"
    );
    let df = parse("FROM x\nCOPY a <<EOF\nbody\nEOF\n").unwrap();
    assert_eq!(
        df.instructions[1].command('\\', &env).unwrap_err().message,
        "COPY cannot accept a heredoc as a destination"
    );
}

#[test]
fn copy_heredoc_sources() {
    let df = parse("FROM x\nCOPY <<A <<-'B' plain /dst/\nhi $A\nA\n\tno $A\n\tB\n").unwrap();
    match df.instructions[1].command('\\', &env).unwrap() {
        Command::Copy {
            srcs,
            dest,
            heredocs,
            ..
        } => {
            assert_eq!(srcs, s(&["plain"]));
            assert_eq!(dest, "/dst/");
            assert_eq!(heredocs.len(), 2);
            assert_eq!(heredocs[0].name, "A");
            assert_eq!(heredocs[0].content, "hi alpha\n");
            assert_eq!(heredocs[1].name, "B");
            assert_eq!(heredocs[1].content, "no $A\n");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn backtick_escape() {
    let df = parse("# escape=`\nFROM x\nENV P=\"C:\\dir `$A\"\n").unwrap();
    assert_eq!(
        df.instructions[1].command(df.escape, &env).unwrap(),
        Command::Env(vec![("P".into(), "C:\\dir $A".into())])
    );
}
