//! Pure Dockerfile handling for berth's classic builder.
//!
//! This crate parses Dockerfiles with the same rules as moby/buildkit's
//! `frontend/dockerfile/parser` (directives, escape characters, line
//! continuations, JSON-form fallback, heredocs), converts parsed instructions
//! into typed [`Command`]s with Docker's variable expansion rules, and matches
//! `.dockerignore` patterns and COPY/ADD source globs.
//!
//! We write our own parser rather than using the `dockerfile-parser` crate
//! because no existing crate follows buildkit's exact rules (it differs on
//! escapes, heredocs and the JSON-form fallbacks), and the builder must produce
//! exactly Docker's results.
//!
//! Nothing in this crate performs I/O.

#![deny(missing_docs)]

mod command;
mod directives;
mod dump;
mod duration;
mod error;
mod flags;
mod glob;
mod heredoc;
mod ignore;
mod lex;
mod line_parsers;
mod parser;
mod pattern;
mod quote;

pub use command::{Command, HealthConfig, ShellOrExec};
pub use dump::dump;
pub use error::Error;
pub use glob::glob_match;
pub use ignore::IgnoreMatcher;
pub use lex::{expand_word, expand_words};
pub use parser::{parse, Dockerfile, Heredoc, Instruction};
pub use quote::{go_quote, go_quote_list};
