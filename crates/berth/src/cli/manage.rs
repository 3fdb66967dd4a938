//! Pieces shared by the object-management command groups (`berth network ...`,
//! `berth volume ...`): running a parsed subcommand against the daemon, and the
//! `key=value` list flags (`--label`, `-o`, `--aux-address`, ...).

use std::collections::BTreeMap;

use berth_client::Client;

use super::error::CliResult;

/// A parsed (sub)command that runs against a connected daemon.
pub trait ClientCommand {
    /// Run it: print its output, return its failure.
    async fn run(&self, client: &Client) -> CliResult;
}

/// Implements [`ClientCommand`] for a subcommand enum: `Variant => handler` for each
/// variant, where every variant holds the parsed arguments `a` of its subcommand and
/// `handler(client, a)` runs it.
macro_rules! client_subcommands {
    ($group:ty { $($variant:ident => $handler:path),+ $(,)? }) => {
        impl $crate::cli::manage::ClientCommand for $group {
            async fn run(&self, client: &berth_client::Client) -> $crate::cli::CliResult {
                match self {
                    $(Self::$variant(args) => $handler(client, args).await,)+
                }
            }
        }
    };
}
pub(crate) use client_subcommands;

/// `key=value` list flags as a map (a later key wins); a bare `key` maps to "".
pub fn kv_map(values: &[String]) -> BTreeMap<String, String> {
    values
        .iter()
        .map(|v| {
            let (k, val) = v.split_once('=').unwrap_or((v.as_str(), ""));
            (k.to_string(), val.to_string())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kv_map_splits_on_the_first_equals_and_keeps_bare_keys() {
        let m = kv_map(&[
            "a".to_string(),
            "b=c=d".to_string(),
            "e=".to_string(),
            "a=later".to_string(),
        ]);
        let got: Vec<(&str, &str)> = m.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(got, vec![("a", "later"), ("b", "c=d"), ("e", "")]);
    }
}
