//! `CHORUS_*` environment overrides: which variables are configuration, and
//! how one becomes a value at an option path of the parsed TOML table.

use super::{ConfigError, invalid};

/// Prefix of environment overrides: then the option path in upper case, `__` between table
/// levels (`CHORUS_LIMITS__OUTBOUND_QUEUE`).
pub const ENV_PREFIX: &str = "CHORUS_";

/// Top-level options that `CHORUS_*` variables may set; other `CHORUS_*`
/// variables (such as `CHORUS_CONFIG`, `CHORUS_LOG`, or a client's
/// `CHORUS_TOKEN`) are not configuration and are left alone.
const ENV_ROOTS: &[&str] = &[
    "listen",
    "ws_path",
    "api_key",
    "admin",
    "nats",
    "cluster",
    "users",
    "dev",
    "allowed_origins",
    "log",
    "auth",
    "limits",
    "default_namespace",
    "namespaces",
    "tls",
];

/// Options whose environment value may be a comma-separated list.
const ENV_LISTS: &[&str] = &["nats", "allowed_origins"];

/// Sets every option that a `CHORUS_*` variable of `env` names in `table`
/// (see [`super::Config::load`] for the syntax).
pub(super) fn apply(
    table: &mut toml::Table,
    env: impl IntoIterator<Item = (String, String)>,
) -> Result<(), ConfigError> {
    for (key, value) in env {
        let Some(path) = key.strip_prefix(ENV_PREFIX) else {
            continue;
        };
        if path == "LOG" || path == "CONFIG" {
            continue; // read by the command line: a log filter and the file name
        }
        let parts: Vec<String> = path.split("__").map(|p| p.to_ascii_lowercase()).collect();
        if !ENV_ROOTS.contains(&parts[0].as_str()) {
            continue;
        }
        let parsed = toml::from_str::<toml::Table>(&format!("v = {value}"))
            .ok()
            .and_then(|mut t| t.remove("v"))
            .unwrap_or_else(|| {
                if parts.len() == 1 && ENV_LISTS.contains(&parts[0].as_str()) {
                    let items = value
                        .split(',')
                        .map(|v| toml::Value::String(v.trim().to_owned()));
                    toml::Value::Array(items.collect())
                } else {
                    toml::Value::String(value)
                }
            });
        set_path(table, &parts, parsed).map_err(|m| invalid(&key, m))?;
    }
    Ok(())
}

fn set_path(table: &mut toml::Table, path: &[String], value: toml::Value) -> Result<(), String> {
    match path {
        [] => Err("empty option name".to_owned()),
        [last] => {
            table.insert(last.clone(), value);
            Ok(())
        }
        [first, rest @ ..] => {
            let entry = table
                .entry(first.clone())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            match entry {
                toml::Value::Table(t) => set_path(t, rest, value),
                _ => Err(format!("{first} is not a table")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    #[test]
    fn environment_overrides_nested_options() {
        let env = [
            ("CHORUS_LISTEN".to_owned(), "0.0.0.0:7000".to_owned()),
            ("CHORUS_LIMITS__OUTBOUND_QUEUE".to_owned(), "7".to_owned()),
            ("CHORUS_TLS__CERT_FILE".to_owned(), "/etc/c.pem".to_owned()),
            (
                "CHORUS_NAMESPACES__CHAT__PRESENCE".to_owned(),
                "true".to_owned(),
            ),
            (
                "CHORUS_API_KEY".to_owned(),
                "a-key-of-enough-length".to_owned(),
            ),
            ("CHORUS_CONFIG".to_owned(), "ignored.toml".to_owned()),
            ("CHORUS_TOKEN".to_owned(), "a client's variable".to_owned()),
            (
                "CHORUS_NATS".to_owned(),
                "nats://a:4222,nats://b:4222".to_owned(),
            ),
            ("OTHER".to_owned(), "x".to_owned()),
        ];
        let c = Config::load(None, env).unwrap();
        assert_eq!(c.listen.port(), 7000);
        assert_eq!(c.limits.outbound_queue, 7);
        assert!(c.namespace("chat").unwrap().presence);
        assert_eq!(c.api_key.as_deref(), Some("a-key-of-enough-length"));
        assert_eq!(c.nats, ["nats://a:4222", "nats://b:4222"]);
        assert_eq!(
            c.tls.cert_file.as_deref(),
            Some(std::path::Path::new("/etc/c.pem"))
        );
        let bad = Config::load(None, [("CHORUS_LIMITS__NOPE".to_owned(), "1".to_owned())]);
        assert!(bad.unwrap_err().to_string().contains("nope"));
    }
}
