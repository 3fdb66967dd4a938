//! The CLI's Go-template engine for `--format` (`berth_template`).

use berth_template::{Template, Val};

/// A `.` like what `docker ps`/`inspect` formats see.
const DOT: &str = r#"{"ID":"0123abcd","Name":"/web","Names":["web","alias"],
"State":{"Status":"running","Running":true,"Pid":42,"ExitCode":0},
"Labels":{"a":"1","com.example.x":"y"},"Ports":[{"PrivatePort":80,"Type":"tcp"}],
"Size":1234567,"Ratio":0.5,"Empty":"","Null":null,"List":[],"Map":{}}"#;

/// `Template::parse` then `execute`. The input is the template; if it
/// holds a NUL byte, what follows the first one is JSON for `.` instead of
/// the fixed container-like value.
pub fn target_go_template(data: &[u8]) {
    let (src, dot_json) = match data.iter().position(|&b| b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, DOT.as_bytes()),
    };
    let src = String::from_utf8_lossy(src);
    let Ok(t) = Template::parse(&src) else {
        return;
    };
    let dot: Val = serde_json::from_slice(dot_json)
        .or_else(|_| serde_json::from_str(DOT))
        .unwrap_or(Val::Null);
    let _ = t.execute(&dot);
}
