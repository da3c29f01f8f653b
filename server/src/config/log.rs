//! The `[log]` options: where log lines go and how they look, read once at
//! startup by the command line before anything else logs.

use serde::Deserialize;

/// The `[log]` table: how the `chorus` binary formats and filters log lines, read once at
/// startup (`--log-json` and `CHORUS_LOG` override it).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// `text` or `json`.
    pub format: LogFormat,
    /// A `tracing` filter such as `info` or `chorus_server=debug`.
    pub level: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            format: LogFormat::Text,
            level: "info".to_owned(),
        }
    }
}

/// The values of `log.format`: `"text"` (the default) or `"json"`.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}
