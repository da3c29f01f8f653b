//! The catalogue of scenarios, one module per area.
//!
//! Each scenario is an async function returning `Ok(())` on a pass and an
//! [`Outcome`] otherwise, wrapped in a [`Def`] with its name, area and needs.
//! Every scenario uses channels and users of its own (random suffixes), so
//! runs against a shared server, and scenarios running at the same time, do
//! not interfere.

use std::sync::Arc;

use chorus_protocol::Codec;

use super::{BoxFuture, Codecs, Context, Needs, Outcome, Scenario};

pub mod kit;

mod api;
mod auth;
mod channels;
mod cluster;
mod commands;
mod errors;
mod handshake;
mod history;
mod limits;
mod malformed;
mod payloads;
mod permissions;
mod presence;
mod users;

pub use kit::Checked;

/// The body of a scenario: runs against the target with one codec; `Ok(())` is a pass.
pub type ScenarioFn = for<'a> fn(&'a Context, Codec) -> BoxFuture<'a, Checked>;

/// A scenario defined by a function and its metadata.
#[derive(Debug, Clone, Copy)]
pub struct Def {
    /// See [`Scenario::name`].
    pub name: &'static str,
    /// See [`Scenario::area`].
    pub area: &'static str,
    /// See [`Scenario::description`].
    pub description: &'static str,
    /// See [`Scenario::codecs`].
    pub codecs: Codecs,
    /// See [`Scenario::needs`].
    pub needs: Needs,
    /// Called once per codec the scenario runs with ([`Scenario::codecs`]).
    pub run: ScenarioFn,
}

impl Scenario for Def {
    fn name(&self) -> &'static str {
        self.name
    }

    fn area(&self) -> &'static str {
        self.area
    }

    fn description(&self) -> &'static str {
        self.description
    }

    fn codecs(&self) -> Codecs {
        self.codecs
    }

    fn needs(&self) -> Needs {
        self.needs
    }

    fn run<'a>(&'a self, ctx: &'a Context, codec: Codec) -> BoxFuture<'a, Outcome> {
        Box::pin(async move {
            match (self.run)(ctx, codec).await {
                Ok(()) => Outcome::Pass,
                Err(outcome) => outcome,
            }
        })
    }
}

/// Every scenario, in the order they run, grouped by area.
pub fn catalogue() -> Vec<Arc<dyn Scenario>> {
    [
        handshake::scenarios(),
        auth::scenarios(),
        commands::scenarios(),
        errors::scenarios(),
        permissions::scenarios(),
        payloads::scenarios(),
        channels::scenarios(),
        presence::scenarios(),
        history::scenarios(),
        limits::scenarios(),
        malformed::scenarios(),
        api::scenarios(),
        users::scenarios(),
        cluster::scenarios(),
    ]
    .into_iter()
    .flatten()
    .map(|d| Arc::new(d) as Arc<dyn Scenario>)
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_names_are_unique_and_kebab_case() {
        let all = catalogue();
        let mut names: Vec<_> = all.iter().map(|s| s.name()).collect();
        for n in &names {
            assert!(
                n.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
                "{n}"
            );
        }
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), all.len());
    }

    #[test]
    fn every_scenario_has_an_area_and_a_sentence() {
        for s in catalogue() {
            assert!(!s.area().is_empty(), "{}", s.name());
            assert!(s.description().ends_with('.'), "{}", s.name());
        }
    }
}
