//! Hostile channel names (protocol.md sections 7.1 and 7.4): names that look
//! like NATS wildcards or subject separators, encodings of each other, case
//! and Unicode variants, the longest legal name. Each is a channel of its own:
//! nothing published to one is ever delivered in another, and invalid names
//! (a space, empty, too long) are refused without delivering anywhere.

use std::collections::BTreeMap;

use chorus_protocol::{Codec, ErrorCode, Payload, Push};

use super::kit::{
    Checked, expect_error, fresh, publish, publish_req, show_payload, subscribe, unique_data,
    while_doing,
};
use super::{Codecs, Def, Needs};
use crate::suite::client::{Conn, fail};
use crate::suite::context::{Context, random_hex};

const AREA: &str = "channels";

pub(super) fn scenarios() -> Vec<Def> {
    vec![Def {
        name: "hostile-channel-names",
        area: AREA,
        description: "Channels named like wildcards (*, >), separators (a.b), encodings of each other, case and Unicode variants, and the longest legal name are each delivered only their own publications; invalid names (a b, empty, 256 bytes) are refused with 107.",
        codecs: Codecs::Each,
        needs: Needs::TOKENS,
        run: |ctx, codec| Box::pin(hostile_channel_names(ctx, codec)),
    }]
}

/// Valid names: (channel, whether it is shared by every run of the suite).
fn valid_names(live: &str, r: &str) -> Vec<(String, bool)> {
    let ns = |name: String| (format!("{live}:{name}"), false);
    let longest = {
        let prefix = format!("{live}:{r}-");
        format!("{prefix}{}", "l".repeat(255 - prefix.len()))
    };
    vec![
        ns(format!("{r}.x")),
        ns(format!("{r}.*")),
        ns(format!("{r}.>")),
        ns(format!("{r}.*.>")),
        ns(format!("{r}_2Ex")),
        ns(format!("{r}.X")),
        ns(format!("{r}:a:b")),
        ns(format!("{r}-日本")),
        ns(format!("{r}-ünïcödé")),
        ns(format!("{r}-a\u{301}")),
        ns(format!("{r}-\u{e1}")),
        (longest, false),
        // The default namespace: these names are shared by every run, so
        // foreign publications may arrive in them (and are ignored).
        ("*".to_owned(), true),
        (">".to_owned(), true),
        (format!("{r}.*"), false),
    ]
}

async fn hostile_channel_names(ctx: &Context, codec: Codec) -> Checked {
    let live = &ctx.profile.live;
    let r = random_hex(6);
    let names = valid_names(live, &r);
    let mut subscribers: Vec<Conn> = Vec::new();
    for (i, (name, _)) in names.iter().enumerate() {
        let mut conn = fresh(ctx, codec, i, "hostile").await?;
        subscribe(&mut conn, name)
            .await
            .map_err(|o| while_doing(o, &format!("subscribe to {name:?}")))?;
        subscribers.push(conn);
    }
    let mut publisher = fresh(ctx, codec, names.len(), "hostile-pub").await?;
    // The default namespace lets only subscribers publish.
    for (name, _) in names
        .iter()
        .filter(|(n, _)| !n.starts_with(&format!("{live}:")))
    {
        subscribe(&mut publisher, name).await?;
    }
    let data: Vec<Payload> = names.iter().map(|_| unique_data("hostile")).collect();
    let sentinels: Vec<Payload> = names.iter().map(|_| unique_data("end")).collect();
    for ((name, _), d) in names.iter().zip(&data) {
        publish(&mut publisher, name, d.clone())
            .await
            .map_err(|o| while_doing(o, &format!("publish to {name:?}")))?;
    }
    // Invalid names near valid ones are refused, and deliver nowhere.
    let longest = &names[11].0;
    for (name, why) in [
        (format!("{live}:{r}.x y"), "a space"),
        (format!("{longest}l"), "256 bytes"),
        (String::new(), "empty"),
    ] {
        let reply = publisher
            .request(publish_req(&name, unique_data("invalid")))
            .await?;
        expect_error(
            reply,
            ErrorCode::BAD_REQUEST,
            &format!("publish to a channel name with {why}"),
        )?;
    }
    for ((name, _), s) in names.iter().zip(&sentinels) {
        publish(&mut publisher, name, s.clone()).await?;
    }
    // Which channel each payload of this run belongs to.
    let owner: BTreeMap<&[u8], &str> = data
        .iter()
        .zip(&names)
        .chain(sentinels.iter().zip(&names))
        .map(|(d, (n, _))| (d.as_bytes(), n.as_str()))
        .collect();
    for (i, conn) in subscribers.iter_mut().enumerate() {
        let (name, shared) = &names[i];
        let mut got = Vec::new();
        loop {
            let Push::Publication(p) = conn
                .push_where(&format!("publications in {name:?}"), |p| {
                    matches!(p, Push::Publication(_))
                })
                .await?
            else {
                continue;
            };
            if p.channel != *name {
                return Err(fail!(
                    "a connection subscribed only to {name:?} received a publication of {:?}",
                    p.channel
                )
                .into());
            }
            match owner.get(p.data.as_bytes()) {
                Some(from) if *from != name.as_str() => {
                    return Err(
                        fail!("a publication sent to {from:?} was delivered in {name:?}").into(),
                    );
                }
                Some(_) => got.push(p.data.clone()),
                // Another run's publication in a name every run shares.
                None if *shared => {}
                None => {
                    return Err(fail!(
                        "an unknown publication {} was delivered in {name:?}",
                        show_payload(&p.data)
                    )
                    .into());
                }
            }
            if p.data == sentinels[i] {
                break;
            }
        }
        let want = vec![data[i].clone(), sentinels[i].clone()];
        if got != want {
            return Err(fail!(
                "{name:?} received {} publications of this run, expected exactly its own 2",
                got.len()
            )
            .into());
        }
    }
    for c in subscribers {
        c.close().await;
    }
    publisher.close().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_valid_names_are_valid_and_distinct() {
        let names = valid_names("live", "abc123");
        for (n, _) in &names {
            chorus_protocol::channel::validate(n).unwrap_or_else(|e| panic!("{n:?}: {e}"));
        }
        assert_eq!(names[11].0.len(), 255);
        let mut sorted: Vec<_> = names.iter().map(|(n, _)| n.clone()).collect();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), names.len());
    }
}
