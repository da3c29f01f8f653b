//! Presence, presence stats, and join and leave events (protocol.md sections
//! 5.7 and 5.12).

use chorus_protocol::message::{ClientInfo, Membership};
use chorus_protocol::{Codec, Push, Request};

use super::kit::{
    Checked, channel_req, fresh, presence, presence_stats, publish, subscribe, unique_data,
};
use super::{Codecs, Def, Needs};
use crate::suite::Outcome;
use crate::suite::client::{Conn, fail};
use crate::suite::context::{Context, user_id};

const AREA: &str = "presence";

pub(super) fn scenarios() -> Vec<Def> {
    vec![
        Def {
            name: "presence",
            area: AREA,
            description: "presence lists every subscribed connection (user and client id) and presence_stats counts connections and distinct users, before and after one leaves.",
            codecs: Codecs::Each,
            needs: Needs::TOKENS,
            run: |ctx, codec| Box::pin(presence_lists(ctx, codec)),
        },
        Def {
            name: "join-leave",
            area: AREA,
            description: "Members receive join (the new member too, after its subscribe reply) and leave on unsubscribe, close and a dropped connection; namespaces without join/leave send none.",
            codecs: Codecs::Each,
            needs: Needs::TOKENS,
            run: |ctx, codec| Box::pin(join_leave(ctx, codec)),
        },
    ]
}

/// (user, client) of a connection, as presence lists it.
fn identity(conn: &Conn) -> (String, String) {
    (conn.user().to_owned(), conn.client_id().to_owned())
}

fn sorted(mut v: Vec<(String, String)>) -> Vec<(String, String)> {
    v.sort();
    v
}

/// Requires presence (asked on every connection of `askers`) to list
/// exactly `members`, and presence_stats to count them.
pub(super) async fn expect_presence(
    askers: &mut [&mut Conn],
    channel: &str,
    members: &[(String, String)],
) -> Checked {
    let want = sorted(members.to_vec());
    let mut users: Vec<&str> = members.iter().map(|(u, _)| u.as_str()).collect();
    users.sort_unstable();
    users.dedup();
    for asker in askers.iter_mut() {
        let got: Vec<(String, String)> = presence(asker, channel)
            .await?
            .clients
            .into_iter()
            .map(|ClientInfo { user, client, .. }| (user, client))
            .collect();
        if sorted(got.clone()) != want {
            return Err(fail!(
                "presence of {channel:?} lists (user, client) {got:?}, expected {want:?}"
            )
            .into());
        }
        let stats = presence_stats(asker, channel).await?;
        if (stats.clients as usize, stats.users as usize) != (want.len(), users.len()) {
            return Err(fail!(
                "presence_stats of {channel:?} says {} clients and {} users, expected {} and {}",
                stats.clients,
                stats.users,
                want.len(),
                users.len()
            )
            .into());
        }
    }
    Ok(())
}

async fn presence_lists(ctx: &Context, codec: Codec) -> Checked {
    let channel = ctx.channel(&ctx.profile.chat);
    let twice = user_id("twice");
    let mut a1 = super::kit::connect_as(ctx, codec, 0, &twice).await?;
    let mut a2 = super::kit::connect_as(ctx, codec, 1, &twice).await?;
    let mut b = fresh(ctx, codec, 2, "once").await?;
    for c in [&mut a1, &mut a2, &mut b] {
        subscribe(c, &channel).await?;
    }
    let all = vec![identity(&a1), identity(&a2), identity(&b)];
    expect_presence(&mut [&mut a1, &mut a2, &mut b], &channel, &all).await?;
    b.request_ok(Request::Unsubscribe(channel_req(&channel)))
        .await?;
    let left = vec![identity(&a1), identity(&a2)];
    expect_presence(&mut [&mut a1, &mut b], &channel, &left).await?;
    for c in [a1, a2, b] {
        c.close().await;
    }
    Ok(())
}

/// Waits on `conn` for a join or leave in `channel` of the connection `client`.
pub(super) async fn membership(
    conn: &mut Conn,
    join: bool,
    channel: &str,
    client: &str,
) -> Result<Membership, Outcome> {
    let kind = if join { "join" } else { "leave" };
    let what = format!("a {kind} of client {client:?} in {channel:?}");
    let push = conn
        .push_where(&what, |p| match p {
            Push::Join(m) if join => m.channel == channel && m.info.client == client,
            Push::Leave(m) if !join => m.channel == channel && m.info.client == client,
            _ => false,
        })
        .await?;
    match push {
        Push::Join(m) | Push::Leave(m) => Ok(m),
        other => Err(fail!("expected {what}, got {other:?}").into()),
    }
}

async fn join_leave(ctx: &Context, codec: Codec) -> Checked {
    let channel = ctx.channel(&ctx.profile.chat);
    let mut watcher = fresh(ctx, codec, 0, "watcher").await?;
    subscribe(&mut watcher, &channel).await?;
    let own = watcher.client_id().to_owned();
    membership(&mut watcher, true, &channel, &own).await?;

    // Unsubscribe.
    let mut b = fresh(ctx, codec, 1, "leaver").await?;
    subscribe(&mut b, &channel).await?;
    let b_id = identity(&b);
    let joined = membership(&mut watcher, true, &channel, &b_id.1).await?;
    if joined.info.user != b_id.0 {
        return Err(fail!(
            "the join names user {:?}, the member is {:?}",
            joined.info.user,
            b_id.0
        )
        .into());
    }
    membership(&mut b, true, &channel, &b_id.1)
        .await
        .map_err(|o| super::kit::while_doing(o, "the new member's own join"))?;
    b.request_ok(Request::Unsubscribe(channel_req(&channel)))
        .await?;
    membership(&mut watcher, false, &channel, &b_id.1).await?;

    // A closed connection, and one whose transport dropped.
    let mut c = fresh(ctx, codec, 1, "closer").await?;
    subscribe(&mut c, &channel).await?;
    let c_id = c.client_id().to_owned();
    membership(&mut watcher, true, &channel, &c_id).await?;
    c.close().await;
    membership(&mut watcher, false, &channel, &c_id).await?;
    let mut d = fresh(ctx, codec, 2, "dropper").await?;
    subscribe(&mut d, &channel).await?;
    let d_id = d.client_id().to_owned();
    membership(&mut watcher, true, &channel, &d_id).await?;
    d.drop_transport().await;
    membership(&mut watcher, false, &channel, &d_id).await?;

    // Without join/leave in the namespace: none, up to a later publication.
    let quiet = ctx.channel(&ctx.profile.capped);
    subscribe(&mut watcher, &quiet).await?;
    let mut e = fresh(ctx, codec, 1, "quiet").await?;
    subscribe(&mut e, &quiet).await?;
    let sentinel = unique_data("quiet");
    publish(&mut e, &quiet, sentinel.clone()).await?;
    loop {
        match watcher.push().await? {
            Push::Join(m) | Push::Leave(m) if m.channel == quiet => {
                return Err(fail!(
                    "a join or leave was sent in {quiet:?}, whose namespace has join/leave off"
                )
                .into());
            }
            Push::Publication(p) if p.channel == quiet && p.data == sentinel => break,
            _ => {}
        }
    }
    for conn in [watcher, b, e] {
        conn.close().await;
    }
    Ok(())
}
