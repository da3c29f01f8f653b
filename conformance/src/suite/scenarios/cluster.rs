//! Several nodes of one system (two or more `--ws` URLs): publications,
//! messages, presence, join/leave, recovery and idempotency work across nodes
//! exactly as on one node (docs/cluster.md).

use chorus_protocol::message::SendRequest;
use chorus_protocol::{Codec, Payload, Request};

use super::history::{idempotency_round, recover_between};
use super::kit::{Checked, connect_as, fresh, subscribe, unique_data};
use super::presence::{expect_presence, membership};
use super::{Codecs, Def, Needs};
use crate::suite::client::{Conn, fail};
use crate::suite::context::{Context, user_id};

const AREA: &str = "cluster";

pub(super) fn scenarios() -> Vec<Def> {
    vec![
        Def {
            name: "cluster-publish",
            area: AREA,
            description: "Publications made on every node reach subscribers on every node; with history, every node sees one offset sequence in the same order.",
            codecs: Codecs::Each,
            needs: Needs::CLUSTER,
            run: |ctx, codec| Box::pin(cluster_publish(ctx, codec)),
        },
        Def {
            name: "cluster-presence",
            area: AREA,
            description: "Presence asked on any node lists the members of every node; joins and leaves cross nodes.",
            codecs: Codecs::Each,
            needs: Needs::CLUSTER,
            run: |ctx, codec| Box::pin(cluster_presence(ctx, codec)),
        },
        Def {
            name: "cluster-recovery",
            area: AREA,
            description: "A client that dropped its connection to one node recovers what it missed by resubscribing on another node.",
            codecs: Codecs::Each,
            needs: Needs::CLUSTER,
            run: |ctx, codec| Box::pin(cluster_recovery(ctx, codec)),
        },
        Def {
            name: "cluster-send",
            area: AREA,
            description: "send reaches the user's connections on every node.",
            codecs: Codecs::Each,
            needs: Needs::CLUSTER,
            run: |ctx, codec| Box::pin(cluster_send(ctx, codec)),
        },
        Def {
            name: "cluster-idempotency",
            area: AREA,
            description: "A publish repeated through another node with the same idempotency key is a duplicate and delivered once.",
            codecs: Codecs::Each,
            needs: Needs::CLUSTER,
            run: |ctx, codec| Box::pin(cluster_idempotency(ctx, codec)),
        },
    ]
}

/// How long one probe may take to reach every member before another is sent.
const PROBE_WAIT: std::time::Duration = std::time::Duration::from_secs(2);
/// Probes sent at most before giving up.
const PROBES: usize = 10;

/// Waits until publications in `channel` reach every member: a node's new
/// interest in a channel reaches the other nodes shortly after its subscribe
/// reply, and a channel without history promises nothing about publications
/// made in between (docs/cluster.md). `members[0]` publishes probes until one
/// reaches everybody; returns how many it published.
async fn settle_channel(members: &mut [Conn], channel: &str) -> Result<u64, crate::suite::Outcome> {
    for probe in 1..=PROBES {
        let data = unique_data("probe");
        super::kit::publish(&mut members[0], channel, data.clone()).await?;
        let mut everywhere = true;
        for m in members.iter_mut() {
            if !reached(m, channel, &data).await? {
                everywhere = false;
            }
        }
        if everywhere {
            return Ok(probe as u64);
        }
    }
    Err(fail!("no probe publication in {channel:?} reached every node in {PROBES} tries").into())
}

/// Reads publications in `channel` until one carries `data` (true), or none
/// comes for [`PROBE_WAIT`] (false).
async fn reached(
    m: &mut Conn,
    channel: &str,
    data: &Payload,
) -> Result<bool, crate::suite::Outcome> {
    loop {
        match tokio::time::timeout(PROBE_WAIT, m.publication(channel)).await {
            Err(_) => return Ok(false),
            Ok(p) => {
                if p?.data == *data {
                    return Ok(true);
                }
            }
        }
    }
}

/// Like [`settle_channel`] for a user's devices: messages to the user are
/// sent until one reaches every device.
async fn settle_user(
    ctx: &Context,
    codec: Codec,
    devices: &mut [Conn],
) -> Result<(), crate::suite::Outcome> {
    let mut sender = fresh(ctx, codec, 0, "probe-sender").await?;
    let user = devices[0].user().to_owned();
    for _ in 0..PROBES {
        let data = unique_data("probe");
        sender
            .request_ok(Request::Send(SendRequest {
                user: user.clone(),
                data: data.clone(),
            }))
            .await?;
        let mut everywhere = true;
        for d in devices.iter_mut() {
            let wait = super::kit::message_with(d, &data);
            if tokio::time::timeout(PROBE_WAIT, wait).await.is_err() {
                everywhere = false;
            }
        }
        if everywhere {
            sender.close().await;
            return Ok(());
        }
    }
    Err(fail!("no probe message to {user:?} reached every device in {PROBES} tries").into())
}

/// One subscriber per node on `channel`.
async fn one_per_node(
    ctx: &Context,
    codec: Codec,
    channel: &str,
) -> Result<Vec<Conn>, crate::suite::Outcome> {
    let mut conns = Vec::new();
    for n in 0..ctx.nodes() {
        let mut c = fresh(ctx, codec, n, "node-member").await?;
        subscribe(&mut c, channel).await?;
        conns.push(c);
    }
    Ok(conns)
}

async fn cluster_publish(ctx: &Context, codec: Codec) -> Checked {
    for (ns, history) in [(&ctx.profile.chat, true), (&ctx.profile.live, false)] {
        let channel = ctx.channel(ns);
        let mut members = one_per_node(ctx, codec, &channel).await?;
        let base = settle_channel(&mut members, &channel).await?;
        // Each member publishes in turn, through its own node.
        let mut sent: Vec<Payload> = Vec::new();
        for round in 0..2 {
            for m in members.iter_mut() {
                let data = unique_data(&format!("round{round}"));
                if history {
                    let (_, pos) = publish_n_with(m, &channel, data.clone()).await?;
                    if pos.offset != base + sent.len() as u64 + 1 {
                        return Err(fail!(
                            "publishes through different nodes got offset {} as publication {} (after {base} probes)",
                            pos.offset,
                            sent.len() + 1
                        )
                        .into());
                    }
                } else {
                    super::kit::publish(m, &channel, data.clone()).await?;
                }
                sent.push(data);
            }
        }
        for (n, m) in members.iter_mut().enumerate() {
            let mut got = Vec::new();
            while got.len() < sent.len() {
                let p = m.publication(&channel).await?;
                if history && p.offset != Some(base + got.len() as u64 + 1) {
                    return Err(fail!(
                        "node {n} delivered offset {:?} as publication {}",
                        p.offset,
                        got.len() + 1
                    )
                    .into());
                }
                got.push(p.data);
            }
            if history && got != sent {
                return Err(fail!("node {n} delivered the publications in another order").into());
            }
            if !history {
                // Without history there is no total order across publishers:
                // require every publication once.
                let mut a: Vec<_> = got.iter().map(|p| p.as_bytes().to_vec()).collect();
                let mut b: Vec<_> = sent.iter().map(|p| p.as_bytes().to_vec()).collect();
                a.sort();
                b.sort();
                if a != b {
                    return Err(fail!(
                        "node {n} delivered {} publications that differ from the {} published",
                        got.len(),
                        sent.len()
                    )
                    .into());
                }
            }
        }
        for m in members {
            m.close().await;
        }
    }
    Ok(())
}

/// Publishes `data`, requiring a position.
async fn publish_n_with(
    conn: &mut Conn,
    channel: &str,
    data: Payload,
) -> Result<(Payload, chorus_protocol::message::StreamPosition), crate::suite::Outcome> {
    let reply = super::kit::publish(conn, channel, data.clone()).await?;
    match reply.position {
        Some(pos) => Ok((data, pos)),
        None => Err(fail!(
            "the publish reply in {channel:?} has no position; its namespace keeps history"
        )
        .into()),
    }
}

async fn cluster_presence(ctx: &Context, codec: Codec) -> Checked {
    let channel = ctx.channel(&ctx.profile.chat);
    let mut watcher = fresh(ctx, codec, 0, "watcher").await?;
    subscribe(&mut watcher, &channel).await?;
    let mut members = Vec::new();
    for n in 1..ctx.nodes() {
        let mut c = fresh(ctx, codec, n, "remote").await?;
        subscribe(&mut c, &channel).await?;
        membership(&mut watcher, true, &channel, c.client_id()).await?;
        members.push(c);
    }
    let mut all: Vec<(String, String)> = std::iter::once(&watcher)
        .chain(members.iter())
        .map(|c| (c.user().to_owned(), c.client_id().to_owned()))
        .collect();
    {
        let mut askers: Vec<&mut Conn> = std::iter::once(&mut watcher)
            .chain(members.iter_mut())
            .collect();
        expect_presence(&mut askers, &channel, &all).await?;
    }
    // The member on the last node leaves; the watcher hears it.
    if let Some(mut last) = members.pop() {
        let id = last.client_id().to_owned();
        last.request_ok(Request::Unsubscribe(super::kit::channel_req(&channel)))
            .await?;
        membership(&mut watcher, false, &channel, &id).await?;
        all.retain(|(_, c)| *c != id);
        let mut askers: Vec<&mut Conn> = std::iter::once(&mut watcher)
            .chain(std::iter::once(&mut last))
            .collect();
        expect_presence(&mut askers, &channel, &all).await?;
        last.close().await;
    }
    for c in members {
        c.close().await;
    }
    watcher.close().await;
    Ok(())
}

async fn cluster_recovery(ctx: &Context, codec: Codec) -> Checked {
    recover_between(ctx, codec, 0, ctx.nodes() - 1).await
}

async fn cluster_send(ctx: &Context, codec: Codec) -> Checked {
    let user = user_id("everywhere");
    let mut devices = Vec::new();
    for n in 0..ctx.nodes() {
        devices.push(connect_as(ctx, codec, n, &user).await?);
    }
    settle_user(ctx, codec, &mut devices).await?;
    for n in 0..ctx.nodes() {
        let mut sender = fresh(ctx, codec, n, "sender").await?;
        let data = unique_data("everywhere");
        sender
            .request_ok(Request::Send(SendRequest {
                user: devices[0].user().to_owned(),
                data: data.clone(),
            }))
            .await?;
        for (d, device) in devices.iter_mut().enumerate() {
            super::kit::message_with(device, &data).await.map_err(|o| {
                super::kit::while_doing(
                    o,
                    &format!("the device on node {d}, sent through node {n}"),
                )
            })?;
        }
        sender.close().await;
    }
    for d in devices {
        d.close().await;
    }
    Ok(())
}

async fn cluster_idempotency(ctx: &Context, codec: Codec) -> Checked {
    for ns in [&ctx.profile.chat, &ctx.profile.live] {
        let channel = ctx.channel(ns);
        let mut reader = fresh(ctx, codec, 0, "idem-reader").await?;
        subscribe(&mut reader, &channel).await?;
        let mut first = fresh(ctx, codec, 0, "idem-a").await?;
        let mut second = fresh(ctx, codec, 1, "idem-b").await?;
        subscribe(&mut first, &channel).await?;
        subscribe(&mut second, &channel).await?;
        let mut all = [first, second, reader];
        settle_channel(&mut all, &channel).await?;
        let [mut first, mut second, mut reader] = all;
        idempotency_round(&channel, &mut first, &mut second, &mut reader).await?;
        for c in [reader, first, second] {
            c.close().await;
        }
    }
    Ok(())
}
