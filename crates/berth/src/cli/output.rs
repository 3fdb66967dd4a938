//! Writing to stdout/stderr without panicking on a closed pipe, and the
//! streaming of multiplexed container output.

use std::io::Write;

use berth_client::{MuxDecoder, RawStream, StreamKind};

use super::error::{CliError, CliResult};

/// Write `text` to stdout (a closed pipe is not an error worth a panic).
pub fn out(text: &str) -> CliResult {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|_| stdout.flush())
    {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(CliError::io("write to stdout", e)),
    }
}

/// Write one line to stdout.
pub fn outln(text: &str) -> CliResult {
    out(&format!("{text}\n"))
}

/// Copy a multiplexed (non-TTY) stream to stdout/stderr until it ends.
pub async fn copy_mux(mut stream: RawStream) -> CliResult {
    let mut dec = MuxDecoder::new();
    while let Some(chunk) = stream.next_chunk().await? {
        dec.push(&chunk);
        loop {
            let frame = dec
                .next_frame()
                .map_err(|e| CliError::msg(format!("error from daemon in stream: {e}")))?;
            let Some(frame) = frame else { break };
            let res = match frame.kind {
                StreamKind::Stdout | StreamKind::Stdin => {
                    let mut o = std::io::stdout().lock();
                    o.write_all(&frame.data).and_then(|_| o.flush())
                }
                StreamKind::Stderr => std::io::stderr().lock().write_all(&frame.data),
                StreamKind::System => {
                    return Err(CliError::msg(format!(
                        "error from daemon in stream: {}",
                        String::from_utf8_lossy(&frame.data).trim_end()
                    )))
                }
            };
            match res {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(()),
                Err(e) => return Err(CliError::io("write container output", e)),
            }
        }
    }
    Ok(())
}

/// Copy a raw stream (a tar archive) to a writer.
pub async fn copy_raw(mut stream: RawStream, w: &mut dyn Write) -> CliResult {
    while let Some(chunk) = stream.next_chunk().await? {
        w.write_all(&chunk)
            .map_err(|e| CliError::io("write output", e))?;
    }
    w.flush().map_err(|e| CliError::io("write output", e))?;
    Ok(())
}

/// Go's `strconv.Quote` for printable text: escapes `"`, `\` and control
/// characters, keeps other Unicode as is.
pub fn go_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\u{7}' => out.push_str("\\a"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\u{b}' => out.push_str("\\v"),
            c if (c as u32) < 0x20 || c as u32 == 0x7f => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// An I/O error worded as Go prints it (`no such file or directory`).
pub fn go_error(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(code) => {
            let desc = nix::errno::Errno::from_raw(code).desc();
            let mut chars = desc.chars();
            match chars.next() {
                Some(first) => first.to_lowercase().chain(chars).collect(),
                None => e.to_string(),
            }
        }
        None => e.to_string(),
    }
}

/// Ask a yes/no question on the terminal (docker's prune prompts).
pub fn confirm(question: &str) -> bool {
    print!("{question} [y/N] ");
    let _ = std::io::stdout().flush();
    let mut answer = String::new();
    if std::io::stdin().read_line(&mut answer).is_err() {
        return false;
    }
    matches!(answer.trim().to_lowercase().as_str(), "y" | "yes")
}

/// Go's `net.JoinHostPort`: brackets around IPv6 hosts.
pub fn join_host_port(host: &str, port: &str) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// The text of a prune report: a `Deleted <what>:` block listing `deleted`
/// (omitted when none), then `Total reclaimed space: …` when `reclaimed`
/// is given.
pub fn prune_report(heading: &str, deleted: &[String], reclaimed: Option<u64>) -> String {
    let mut text = String::new();
    if !deleted.is_empty() {
        text.push_str(heading);
        text.push('\n');
        for n in deleted {
            text.push_str(n);
            text.push('\n');
        }
        text.push('\n');
    }
    if let Some(bytes) = reclaimed {
        text.push_str(&format!(
            "Total reclaimed space: {}\n",
            berth_spec::units::human_size(bytes, 4)
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::{go_quote, prune_report};

    #[test]
    fn prune_report_lists_deleted_then_total() {
        let ids = vec!["a".to_string(), "b".to_string()];
        assert_eq!(
            prune_report("Deleted Volumes:", &ids, Some(0)),
            "Deleted Volumes:\na\nb\n\nTotal reclaimed space: 0B\n"
        );
        assert_eq!(prune_report("Deleted Networks:", &[], None), "");
        assert_eq!(
            prune_report("Deleted Networks:", &ids, None),
            "Deleted Networks:\na\nb\n\n"
        );
    }

    #[test]
    fn quotes_like_go() {
        assert_eq!(go_quote("sh -c \"x\"\n"), "\"sh -c \\\"x\\\"\\n\"");
        assert_eq!(go_quote("sleep 10…"), "\"sleep 10…\"");
    }
}
