//! History, recovery and idempotent publish (protocol.md sections 5.4, 5.8
//! and 8).

use chorus_protocol::message::{
    HistoryRequest, Publication, PublishRequest, StreamPosition, SubscribeResult,
};
use chorus_protocol::{Codec, Payload, Request};

use super::kit::{
    self, Checked, fresh, history, publish, publish_with, subscribe, subscribe_since,
    subscribe_with, unique_data,
};
use super::{Codecs, Def, Needs};
use crate::suite::Outcome;
use crate::suite::client::{Conn, fail};
use crate::suite::context::Context;

const AREA: &str = "history";

pub(super) fn scenarios() -> Vec<Def> {
    vec![
        Def {
            name: "history",
            area: AREA,
            description: "history pages: only the position, the oldest, the newest (reverse), after a position, before a position, and another epoch; offsets grow by one from 1 in one epoch.",
            codecs: Codecs::Each,
            needs: Needs::TOKENS,
            run: |ctx, codec| Box::pin(history_pages(ctx, codec)),
        },
        Def {
            name: "recovery",
            area: AREA,
            description: "After a dropped connection, subscribe with the last position recovers exactly the missed publications (recovered true), then live ones follow without duplicates.",
            codecs: Codecs::Each,
            needs: Needs::TOKENS,
            run: |ctx, codec| Box::pin(recovery(ctx, codec)),
        },
        Def {
            name: "recovery-positions",
            area: AREA,
            description: "since the current position recovers nothing (recovered true); since offset 0 recovers from the first; since another epoch is unrecoverable.",
            codecs: Codecs::Each,
            needs: Needs::TOKENS,
            run: |ctx, codec| Box::pin(recovery_positions(ctx, codec)),
        },
        Def {
            name: "idempotent-publish",
            area: AREA,
            description: "A publish repeating an idempotency key in the same channel is acknowledged with duplicate true and delivered (and stored) once; the key is per channel.",
            codecs: Codecs::Each,
            needs: Needs::TOKENS,
            run: |ctx, codec| Box::pin(idempotent_publish(ctx, codec)),
        },
    ]
}

/// Publishes `count` fresh payloads; returns them with their positions.
pub(super) async fn publish_n(
    conn: &mut Conn,
    channel: &str,
    count: usize,
) -> Result<Vec<(Payload, StreamPosition)>, Outcome> {
    let mut out = Vec::with_capacity(count);
    for _ in 0..count {
        let data = unique_data("h");
        let reply = publish(conn, channel, data.clone()).await?;
        let Some(position) = reply.position else {
            return Err(fail!(
                "the publish reply in {channel:?} has no position, though its namespace keeps history"
            )
            .into());
        };
        out.push((data, position));
    }
    Ok(out)
}

/// Requires offsets `first..` without gaps, in one epoch.
fn expect_contiguous(published: &[(Payload, StreamPosition)], first: u64) -> Checked {
    let epoch = &published[0].1.epoch;
    for (i, (_, pos)) in published.iter().enumerate() {
        let want = first + i as u64;
        if pos.offset != want || pos.epoch != *epoch {
            let got: Vec<_> = published
                .iter()
                .map(|(_, p)| (p.offset, p.epoch.clone()))
                .collect();
            return Err(fail!(
                "publish positions (offset, epoch) are {got:?}, expected offsets {first}, {}, ... in one epoch",
                first + 1
            )
            .into());
        }
    }
    Ok(())
}

/// Requires `pubs` to be the publications at `offsets` (1-based into `published`).
pub(super) fn expect_page(
    what: &str,
    channel: &str,
    pubs: &[Publication],
    published: &[(Payload, StreamPosition)],
    offsets: &[u64],
) -> Checked {
    let got: Vec<Option<u64>> = pubs.iter().map(|p| p.offset).collect();
    let want: Vec<Option<u64>> = offsets.iter().map(|o| Some(*o)).collect();
    if got != want {
        return Err(fail!("{what}: offsets {got:?}, expected {want:?}").into());
    }
    for p in pubs {
        let Some((data, pos)) = p
            .offset
            .and_then(|o| usize::try_from(o).ok())
            .and_then(|o| published.get(o.wrapping_sub(1)))
        else {
            continue;
        };
        if p.data != *data || p.channel != channel || p.epoch.as_ref() != Some(&pos.epoch) {
            return Err(fail!(
                "{what}: the publication at offset {} does not match what was published (channel {:?}, epoch {:?})",
                pos.offset,
                p.channel,
                p.epoch
            )
            .into());
        }
        if p.info.is_none() {
            return Err(fail!(
                "{what}: the publication at offset {} has no publisher info",
                pos.offset
            )
            .into());
        }
    }
    Ok(())
}

fn page(channel: &str, limit: u32, since: Option<StreamPosition>, reverse: bool) -> HistoryRequest {
    HistoryRequest {
        channel: channel.into(),
        limit: Some(limit),
        since,
        reverse,
    }
}

async fn history_pages(ctx: &Context, codec: Codec) -> Checked {
    let channel = ctx.channel(&ctx.profile.chat);
    let mut conn = fresh(ctx, codec, 0, "history").await?;
    let sub = subscribe(&mut conn, &channel).await?;
    match sub.position {
        Some(StreamPosition { offset: 0, .. }) => {}
        other => {
            return Err(fail!(
                "subscribing to a channel without publications gave position {other:?}, expected offset 0"
            )
            .into());
        }
    }
    let published = publish_n(&mut conn, &channel, 5).await?;
    expect_contiguous(&published, 1)?;
    let current = published[4].1.clone();
    let epoch = current.epoch.clone();
    let at = |offset| StreamPosition {
        offset,
        epoch: epoch.clone(),
    };

    let mut reader = fresh(ctx, codec, 1, "history-reader").await?;
    let h = history(&mut reader, page(&channel, 0, None, false)).await?;
    if h.position != current || !h.publications.is_empty() {
        return Err(fail!(
            "history with limit 0 gave position {:?} and {} publications, expected {current:?} and none",
            h.position,
            h.publications.len()
        )
        .into());
    }
    let cases: [(&str, HistoryRequest, &[u64]); 5] = [
        ("the oldest 3", page(&channel, 3, None, false), &[1, 2, 3]),
        (
            "the newest 3 (reverse)",
            page(&channel, 3, None, true),
            &[5, 4, 3],
        ),
        (
            "after offset 2",
            page(&channel, 10, Some(at(2)), false),
            &[3, 4, 5],
        ),
        (
            "before offset 4 (reverse)",
            page(&channel, 10, Some(at(4)), true),
            &[3, 2, 1],
        ),
        (
            "after offset 1, limit 2",
            page(&channel, 2, Some(at(1)), false),
            &[2, 3],
        ),
    ];
    for (what, request, offsets) in cases {
        let h = history(&mut reader, request).await?;
        if h.position != current {
            return Err(fail!(
                "history ({what}) gave position {:?}, expected {current:?}",
                h.position
            )
            .into());
        }
        expect_page(
            &format!("history ({what})"),
            &channel,
            &h.publications,
            &published,
            offsets,
        )?;
    }
    let other_epoch = StreamPosition {
        offset: 1,
        epoch: format!("not-{epoch}"),
    };
    let h = history(&mut reader, page(&channel, 10, Some(other_epoch), false)).await?;
    if h.position != current || !h.publications.is_empty() {
        return Err(fail!(
            "history since a position of another epoch gave {} publications, expected none (and the current position)",
            h.publications.len()
        )
        .into());
    }
    let late = subscribe(&mut reader, &channel).await?;
    if late.position.as_ref() != Some(&current) {
        return Err(fail!(
            "a subscribe reply gave position {:?}, the last publish {current:?}",
            late.position
        )
        .into());
    }
    conn.close().await;
    reader.close().await;
    Ok(())
}

/// Requires a subscribe reply that recovered `offsets` of `published`.
fn expect_recovered(
    what: &str,
    channel: &str,
    reply: &SubscribeResult,
    published: &[(Payload, StreamPosition)],
    offsets: &[u64],
) -> Checked {
    if !reply.recovered {
        return Err(fail!("{what}: the subscribe reply says recovered false").into());
    }
    expect_page(what, channel, &reply.publications, published, offsets)?;
    let last = &published[published.len() - 1].1;
    if reply.position.as_ref() != Some(last) {
        return Err(fail!(
            "{what}: the subscribe reply has position {:?}, expected {last:?}",
            reply.position
        )
        .into());
    }
    Ok(())
}

/// The recovery round trip shared with the cluster scenario: a reader on
/// node `first` sees 3 publications, drops its connection, misses 3, and
/// resubscribes on node `second`.
pub(super) async fn recover_between(
    ctx: &Context,
    codec: Codec,
    first: usize,
    second: usize,
) -> Checked {
    let channel = ctx.channel(&ctx.profile.chat);
    let mut publisher = fresh(ctx, codec, first + 1, "rec-pub").await?;
    subscribe(&mut publisher, &channel).await?;
    let reader_user = crate::suite::context::user_id("reader");
    let mut reader = kit::connect_as(ctx, codec, first, &reader_user).await?;
    subscribe(&mut reader, &channel).await?;
    let mut published = publish_n(&mut publisher, &channel, 3).await?;
    let mut last = None;
    for (data, pos) in &published {
        let p = reader.publication(&channel).await?;
        if p.data != *data || p.offset != Some(pos.offset) {
            return Err(fail!(
                "live publication with offset {:?} does not match the publish at {}",
                p.offset,
                pos.offset
            )
            .into());
        }
        last = Some(pos.clone());
    }
    reader.drop_transport().await;
    published.extend(publish_n(&mut publisher, &channel, 3).await?);
    let Some(since) = last else {
        return Err(fail!("no position to recover from").into());
    };
    let mut back = kit::connect_as(ctx, codec, second, &reader_user).await?;
    let reply = subscribe_with(&mut back, &channel, subscribe_since(&channel, since)).await?;
    expect_recovered(
        "resubscribe with the last position seen",
        &channel,
        &reply,
        &published,
        &[4, 5, 6],
    )?;
    // Live publications follow, the recovered ones not again.
    published.extend(publish_n(&mut publisher, &channel, 1).await?);
    let p = back.publication(&channel).await?;
    if p.offset != Some(7) {
        return Err(fail!(
            "after recovery the next live publication has offset {:?}, expected 7",
            p.offset
        )
        .into());
    }
    publisher.close().await;
    back.close().await;
    Ok(())
}

async fn recovery(ctx: &Context, codec: Codec) -> Checked {
    recover_between(ctx, codec, 0, 0).await
}

async fn recovery_positions(ctx: &Context, codec: Codec) -> Checked {
    let channel = ctx.channel(&ctx.profile.chat);
    let mut publisher = fresh(ctx, codec, 0, "positions").await?;
    subscribe(&mut publisher, &channel).await?;
    let published = publish_n(&mut publisher, &channel, 3).await?;
    let current = published[2].1.clone();
    let cases: [(&str, StreamPosition, Option<&[u64]>); 3] = [
        ("since the current position", current.clone(), Some(&[])),
        (
            "since offset 0 of some epoch",
            StreamPosition {
                offset: 0,
                epoch: "any".into(),
            },
            Some(&[1, 2, 3]),
        ),
        (
            "since a position of another epoch",
            StreamPosition {
                offset: 2,
                epoch: format!("not-{}", current.epoch),
            },
            None,
        ),
    ];
    for (i, (what, since, recovered)) in cases.into_iter().enumerate() {
        let mut conn = fresh(ctx, codec, i + 1, "positions-sub").await?;
        let reply = subscribe_with(&mut conn, &channel, subscribe_since(&channel, since)).await?;
        match recovered {
            Some(offsets) => expect_recovered(what, &channel, &reply, &published, offsets)?,
            None => {
                if reply.recovered || !reply.publications.is_empty() {
                    return Err(fail!(
                        "subscribe {what}: recovered {} with {} publications, expected recovered false and none",
                        reply.recovered,
                        reply.publications.len()
                    )
                    .into());
                }
                if reply.position.as_ref() != Some(&current) {
                    return Err(fail!(
                        "subscribe {what}: position {:?}, expected the current {current:?}",
                        reply.position
                    )
                    .into());
                }
            }
        }
        conn.close().await;
    }
    publisher.close().await;
    Ok(())
}

/// A publish with an idempotency key.
pub(super) fn keyed(channel: &str, data: Payload, key: &str) -> Request {
    Request::Publish(PublishRequest {
        channel: channel.into(),
        data,
        idempotency_key: Some(key.into()),
    })
}

/// Publishes with a fresh key through `first`, repeats through `second`,
/// then a sentinel; `reader` must receive the first and the sentinel only.
/// Returns the key.
pub(super) async fn idempotency_round(
    channel: &str,
    first: &mut Conn,
    second: &mut Conn,
    reader: &mut Conn,
) -> Result<String, Outcome> {
    let key = format!("cf-{}", crate::suite::context::random_hex(8));
    let data = unique_data("once");
    let one = publish_with(first, channel, keyed(channel, data.clone(), &key)).await?;
    if one.duplicate {
        return Err(fail!("the first publish with a fresh key was reported as a duplicate").into());
    }
    let again = publish_with(second, channel, keyed(channel, data.clone(), &key)).await?;
    if !again.duplicate {
        return Err(fail!(
            "repeating idempotency key {key:?} in {channel:?} was not reported as a duplicate"
        )
        .into());
    }
    let sentinel = unique_data("after");
    publish_with(
        second,
        channel,
        keyed(channel, sentinel.clone(), &format!("{key}-2")),
    )
    .await?;
    let p = reader.publication(channel).await?;
    if p.data != data {
        return Err(fail!("the keyed publication was not delivered first").into());
    }
    let p = reader.publication(channel).await?;
    if p.data != sentinel {
        return Err(fail!(
            "a publish repeating an idempotency key in {channel:?} was delivered again"
        )
        .into());
    }
    Ok(key)
}

async fn idempotent_publish(ctx: &Context, codec: Codec) -> Checked {
    for ns in [&ctx.profile.chat, &ctx.profile.live] {
        let channel = ctx.channel(ns);
        let mut reader = fresh(ctx, codec, 0, "idem-reader").await?;
        subscribe(&mut reader, &channel).await?;
        let mut first = fresh(ctx, codec, 1, "idem-pub").await?;
        let mut second = fresh(ctx, codec, 2, "idem-pub").await?;
        subscribe(&mut first, &channel).await?;
        subscribe(&mut second, &channel).await?;
        let key = idempotency_round(&channel, &mut first, &mut second, &mut reader).await?;
        // The same key in another channel is a different publish.
        let elsewhere = ctx.channel(ns);
        subscribe(&mut first, &elsewhere).await?;
        let reply = publish_with(
            &mut first,
            &elsewhere,
            keyed(&elsewhere, unique_data("elsewhere"), &key),
        )
        .await?;
        if reply.duplicate {
            return Err(fail!(
                "an idempotency key used in {channel:?} made a publish in {elsewhere:?} a duplicate"
            )
            .into());
        }
        for c in [reader, first, second] {
            c.close().await;
        }
    }
    Ok(())
}
