//! docs/conformance.md is what someone outside this repository follows to
//! check their server, so it must not drift from the suite: the profile it
//! shows, the scenarios it lists and the flags it names are checked here.

use std::collections::BTreeSet;

use chorus_conformance::suite::{Profile, catalogue};

fn doc() -> String {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/conformance.md");
    std::fs::read_to_string(path).expect("docs/conformance.md exists")
}

#[test]
fn the_profile_block_is_exactly_the_suites_profile() {
    let doc = doc();
    let start = doc
        .find("```toml conformance-profile\n")
        .expect("a ```toml conformance-profile block")
        + "```toml conformance-profile\n".len();
    let len = doc[start..].find("```").expect("the block ends");
    assert_eq!(&doc[start..start + len], Profile::default().server_toml());
}

#[test]
fn every_scenario_is_listed_and_no_other() {
    let doc = doc();
    let names: BTreeSet<&str> = catalogue().iter().map(|s| s.name()).collect();
    let listed: BTreeSet<&str> = doc
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split('`').next())
        .collect();
    assert_eq!(listed, names);
}

#[test]
fn every_flag_named_exists() {
    let doc = doc();
    let source = include_str!("../src/bin/chorus-conformance.rs");
    let mut flags = BTreeSet::new();
    for (i, _) in doc.match_indices("--") {
        let flag: String = doc[i + 2..]
            .chars()
            .take_while(|c| c.is_ascii_lowercase() || *c == '-')
            .collect();
        // Flags of other commands in the examples.
        let named = flag.starts_with(|c: char| c.is_ascii_lowercase());
        if named && !["release", "bin", "check"].contains(&flag.as_str()) {
            flags.insert(flag);
        }
    }
    assert!(
        flags.contains("ws") && flags.contains("token-cmd"),
        "{flags:?}"
    );
    for flag in flags {
        let field = flag.replace('-', "_");
        assert!(
            source.contains(&format!("long = \"{flag}\""))
                || source.contains(&format!("    {field}: ")),
            "docs/conformance.md names --{flag}, which chorus-conformance does not have"
        );
    }
}
