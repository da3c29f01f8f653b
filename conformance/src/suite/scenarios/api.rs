//! The server API (docs/api.md) as clients see its effects: publish, send,
//! broadcast, presence, history, and disconnecting clients, including
//! recovery after a forced reconnect. These run only with `--api`.

use chorus_protocol::message::{ConnectRequest, SubscribeRequest};
use chorus_protocol::{CloseCode, Codec, Payload};
use serde_json::{Value, json};

use super::history::{expect_page, publish_n};
use super::kit::{self, Checked, connect_as, expect_closed, fresh, show_payload, subscribe};
use super::{Codecs, Def, Needs};
use crate::suite::Outcome;
use crate::suite::client::{Conn, fail};
use crate::suite::context::{Api, Context, random_hex, user_id};
use crate::suite::http::Response;
use crate::suite::tokens::Claims;

const AREA: &str = "api";

pub(super) fn scenarios() -> Vec<Def> {
    vec![
        Def {
            name: "api-key",
            area: AREA,
            description: "API requests without the key, with a wrong key or another scheme get 401 with error 101; with the key they succeed.",
            codecs: Codecs::Independent,
            needs: Needs::API,
            run: |ctx, _| Box::pin(api_key(ctx)),
        },
        Def {
            name: "api-errors",
            area: AREA,
            description: "API errors carry the protocol's error object: 102 as 404, 108 as 409, 107 as 400.",
            codecs: Codecs::Independent,
            needs: Needs::API,
            run: |ctx, _| Box::pin(api_errors(ctx)),
        },
        Def {
            name: "api-publish",
            area: AREA,
            description: "POST /api/publish reaches subscribers exactly as sent, without publisher info, at the position it returns; a repeated idempotency key is a duplicate.",
            codecs: Codecs::Each,
            needs: Needs::API,
            run: |ctx, codec| Box::pin(api_publish(ctx, codec)),
        },
        Def {
            name: "api-send",
            area: AREA,
            description: "POST /api/send reaches every connection of the user, without from and with broadcast false.",
            codecs: Codecs::Each,
            needs: Needs::API,
            run: |ctx, codec| Box::pin(api_send(ctx, codec)),
        },
        Def {
            name: "api-broadcast",
            area: AREA,
            description: "POST /api/broadcast reaches connections with broadcast true and no from.",
            codecs: Codecs::Each,
            needs: Needs::API,
            run: |ctx, codec| Box::pin(api_broadcast(ctx, codec)),
        },
        Def {
            name: "api-presence-history",
            area: AREA,
            description: "POST /api/presence, /api/presence_stats and /api/history agree with what clients did.",
            codecs: Codecs::Each,
            needs: Needs::API,
            run: |ctx, codec| Box::pin(api_presence_history(ctx, codec)),
        },
        Def {
            name: "api-disconnect",
            area: AREA,
            description: "POST /api/disconnect with a user closes every connection of that user with 4506 (do not reconnect).",
            codecs: Codecs::Each,
            needs: Needs::API,
            run: |ctx, codec| Box::pin(api_disconnect(ctx, codec)),
        },
        Def {
            name: "api-forced-reconnect",
            area: AREA,
            description: "POST /api/disconnect with a client and reconnect true closes it with 4005; reconnecting with its last position recovers what it missed.",
            codecs: Codecs::Each,
            needs: Needs::API,
            run: |ctx, codec| Box::pin(api_forced_reconnect(ctx, codec)),
        },
    ]
}

pub(super) fn api(ctx: &Context) -> Result<&Api, Outcome> {
    ctx.api
        .as_ref()
        .ok_or_else(|| Outcome::Skip("needs the HTTP API: pass --api and --api-key".into()))
}

/// Requires status 200 and returns the JSON body.
pub(super) fn ok_json(
    what: &str,
    r: Result<Response, crate::suite::http::HttpError>,
) -> Result<Value, Outcome> {
    let r = r.map_err(|e| fail!("{what}: {e}"))?;
    if r.status != 200 {
        return Err(fail!("{what}: HTTP {} {:?}, expected 200", r.status, r.body).into());
    }
    r.json()
        .ok_or_else(|| fail!("{what}: the body is not JSON: {:?}", r.body).into())
}

/// Requires `status` and a JSON error object with `code`.
fn expect_api_error(
    what: &str,
    r: Result<Response, crate::suite::http::HttpError>,
    status: u16,
    code: u16,
) -> Checked {
    let r = r.map_err(|e| fail!("{what}: {e}"))?;
    let got = r.json().and_then(|v| v["error"]["code"].as_u64());
    if r.status != status || got != Some(u64::from(code)) {
        return Err(fail!(
            "{what}: HTTP {} {:?}, expected {status} with error code {code}",
            r.status,
            r.body
        )
        .into());
    }
    Ok(())
}

/// A JSON string literal.
fn quoted(s: &str) -> String {
    Value::from(s).to_string()
}

async fn api_key(ctx: &Context) -> Checked {
    let api = api(ctx)?;
    let key = api.key.clone().unwrap_or_default();
    let wrong = format!("apikey wrong-{}", random_hex(12));
    let bearer = format!("Bearer {key}");
    let capitalised = format!("Apikey {key}");
    for (authorization, what) in [
        (None, "without a key"),
        (Some(wrong.as_str()), "with a wrong key"),
        (Some(bearer.as_str()), "with the key as a bearer token"),
        (Some(capitalised.as_str()), "with the scheme `Apikey`"),
    ] {
        let r = api.request("GET", "/api/stats", None, authorization).await;
        expect_api_error(&format!("GET /api/stats {what}"), r, 401, 101)?;
    }
    ok_json("GET /api/stats with the key", api.get("/api/stats").await)?;
    Ok(())
}

async fn api_errors(ctx: &Context) -> Checked {
    let api = api(ctx)?;
    let missing = format!("cfmissing{}:x", random_hex(6));
    let live = ctx.channel(&ctx.profile.live);
    let r = api
        .post("/api/publish", &json!({"channel": missing, "data": 1}))
        .await;
    expect_api_error("publish in an unknown namespace", r, 404, 102)?;
    let r = api.post("/api/presence", &json!({"channel": live})).await;
    expect_api_error("presence where it is off", r, 409, 108)?;
    let r = api
        .post("/api/publish", &json!({"channel": "a b", "data": 1}))
        .await;
    expect_api_error("publish to an invalid channel name", r, 400, 107)?;
    Ok(())
}

async fn api_publish(ctx: &Context, codec: Codec) -> Checked {
    let api = api(ctx)?;
    let channel = ctx.channel(&ctx.profile.chat);
    let mut sub = fresh(ctx, codec, 0, "api-sub").await?;
    subscribe(&mut sub, &channel).await?;
    // The JSON text, exactly as subscribers must receive it.
    let text = format!("{{\"cf\": [1, 2.50, \"{}\"]}}", random_hex(4));
    let key = format!("cf-{}", random_hex(8));
    let body = format!(
        "{{\"channel\":{},\"data\":{text},\"idempotency_key\":{}}}",
        quoted(&channel),
        quoted(&key)
    );
    let reply = ok_json(
        "POST /api/publish",
        api.post_text("/api/publish", &body).await,
    )?;
    let offset = reply["position"]["offset"].as_u64();
    let p = sub.publication(&channel).await?;
    if p.data != Payload::from(text.clone()) {
        return Err(fail!(
            "a publication through the API arrived as {}, sent {text}",
            show_payload(&p.data)
        )
        .into());
    }
    if p.info.is_some() {
        return Err(fail!("a publication through the API carries publisher info").into());
    }
    if p.offset != offset {
        return Err(fail!(
            "the publication has offset {:?}, the API answered position {}",
            p.offset,
            reply["position"]
        )
        .into());
    }
    let again = ok_json(
        "POST /api/publish repeating the key",
        api.post_text("/api/publish", &body).await,
    )?;
    if again["duplicate"] != json!(true) {
        return Err(fail!(
            "repeating an idempotency key through the API answered {again}, expected duplicate true"
        )
        .into());
    }
    sub.close().await;
    Ok(())
}

async fn api_send(ctx: &Context, codec: Codec) -> Checked {
    let api = api(ctx)?;
    let user = user_id("api-send");
    let mut devices = vec![
        connect_as(ctx, codec, 0, &user).await?,
        connect_as(ctx, codec, 1, &user).await?,
    ];
    let text = format!("{{\"cf\":\"{}\"}}", random_hex(6));
    let body = format!("{{\"user\":{},\"data\":{text}}}", quoted(devices[0].user()));
    ok_json("POST /api/send", api.post_text("/api/send", &body).await)?;
    let data = Payload::from(text);
    for d in &mut devices {
        let m = kit::message_with(d, &data).await?;
        if m.broadcast || m.from.is_some() {
            return Err(fail!(
                "a message sent through the API has broadcast {} and from {:?}, expected false and none",
                m.broadcast,
                m.from
            )
            .into());
        }
    }
    for d in devices {
        d.close().await;
    }
    Ok(())
}

async fn api_broadcast(ctx: &Context, codec: Codec) -> Checked {
    let api = api(ctx)?;
    let mut conns = vec![
        fresh(ctx, codec, 0, "api-bc").await?,
        fresh(ctx, codec, 1, "api-bc").await?,
    ];
    let text = format!("{{\"cf\":\"{}\"}}", random_hex(6));
    ok_json(
        "POST /api/broadcast",
        api.post_text("/api/broadcast", &format!("{{\"data\":{text}}}"))
            .await,
    )?;
    let data = Payload::from(text);
    for c in &mut conns {
        let m = kit::message_with(c, &data).await?;
        if !m.broadcast || m.from.is_some() {
            return Err(fail!(
                "a broadcast through the API has broadcast {} and from {:?}, expected true and none",
                m.broadcast,
                m.from
            )
            .into());
        }
    }
    for c in conns {
        c.close().await;
    }
    Ok(())
}

async fn api_presence_history(ctx: &Context, codec: Codec) -> Checked {
    let api = api(ctx)?;
    let channel = ctx.channel(&ctx.profile.chat);
    let mut a = fresh(ctx, codec, 0, "api-a").await?;
    let mut b = fresh(ctx, codec, 1, "api-b").await?;
    subscribe(&mut a, &channel).await?;
    subscribe(&mut b, &channel).await?;
    let published = publish_n(&mut a, &channel, 2).await?;
    let presence = ok_json(
        "POST /api/presence",
        api.post("/api/presence", &json!({ "channel": channel }))
            .await,
    )?;
    let mut got: Vec<(String, String)> = presence["clients"]
        .as_array()
        .map(|list| {
            list.iter()
                .map(|c| {
                    (
                        c["user"].as_str().unwrap_or_default().to_owned(),
                        c["client"].as_str().unwrap_or_default().to_owned(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    got.sort();
    let mut want = vec![
        (a.user().to_owned(), a.client_id().to_owned()),
        (b.user().to_owned(), b.client_id().to_owned()),
    ];
    want.sort();
    if got != want {
        return Err(fail!("POST /api/presence lists {got:?}, expected {want:?}").into());
    }
    let stats = ok_json(
        "POST /api/presence_stats",
        api.post("/api/presence_stats", &json!({ "channel": channel }))
            .await,
    )?;
    if stats != json!({"clients": 2, "users": 2}) {
        return Err(fail!(
            "POST /api/presence_stats answered {stats}, expected 2 clients and 2 users"
        )
        .into());
    }
    let history = ok_json(
        "POST /api/history",
        api.post("/api/history", &json!({ "channel": channel, "limit": 10 }))
            .await,
    )?;
    let offsets: Vec<Option<u64>> = history["publications"]
        .as_array()
        .map(|l| l.iter().map(|p| p["offset"].as_u64()).collect())
        .unwrap_or_default();
    if offsets != [Some(1), Some(2)] || history["position"]["offset"] != json!(2) {
        return Err(fail!("POST /api/history answered {history}, expected offsets 1 and 2").into());
    }
    // The same page over the protocol, for comparison of the contents.
    let page = kit::history(
        &mut b,
        chorus_protocol::message::HistoryRequest {
            channel: channel.clone(),
            limit: Some(10),
            ..Default::default()
        },
    )
    .await?;
    expect_page("history", &channel, &page.publications, &published, &[1, 2])?;
    a.close().await;
    b.close().await;
    Ok(())
}

async fn api_disconnect(ctx: &Context, codec: Codec) -> Checked {
    let api = api(ctx)?;
    let user = user_id("kicked");
    let mut devices = vec![
        connect_as(ctx, codec, 0, &user).await?,
        connect_as(ctx, codec, 1, &user).await?,
    ];
    let mut other = fresh(ctx, codec, 0, "bystander").await?;
    ok_json(
        "POST /api/disconnect",
        api.post(
            "/api/disconnect",
            &json!({ "user": devices[0].user(), "reason": "conformance" }),
        )
        .await,
    )?;
    for d in &mut devices {
        let closed = d.closed().await?;
        expect_closed(&closed, CloseCode::KICKED)?;
    }
    other.ping().await?;
    other.close().await;
    Ok(())
}

async fn api_forced_reconnect(ctx: &Context, codec: Codec) -> Checked {
    let api = api(ctx)?;
    let channel = ctx.channel(&ctx.profile.chat);
    let mut publisher = fresh(ctx, codec, 1, "forced-pub").await?;
    subscribe(&mut publisher, &channel).await?;
    let user = user_id("forced");
    let mut reader = connect_as(ctx, codec, 0, &user).await?;
    subscribe(&mut reader, &channel).await?;
    let mut published = publish_n(&mut publisher, &channel, 2).await?;
    let mut last = None;
    for _ in 0..2 {
        let p = reader.publication(&channel).await?;
        last = p.offset.zip(p.epoch);
    }
    ok_json(
        "POST /api/disconnect with a client",
        api.post(
            "/api/disconnect",
            &json!({ "client": reader.client_id(), "reconnect": true }),
        )
        .await,
    )?;
    let closed = reader.closed().await?;
    expect_closed(&closed, CloseCode::FORCE_RECONNECT)?;
    published.extend(publish_n(&mut publisher, &channel, 2).await?);
    let Some((offset, epoch)) = last else {
        return Err(fail!("the live publications carried no position").into());
    };
    // Reconnect as an SDK does: connect with subs carrying the position.
    let token = kit::token(ctx, &Claims::new(&user)).await?;
    let mut back = Conn::open(ctx.ws_url(1), codec).await?;
    let request = ConnectRequest {
        token: Some(token),
        subs: vec![SubscribeRequest {
            channel: channel.clone(),
            since: Some(chorus_protocol::message::StreamPosition { offset, epoch }),
            data: None,
        }],
        ..Default::default()
    };
    let result = back
        .connect_raw(request)
        .await?
        .1
        .map_err(|e| fail!("reconnect refused: error {} {:?}", e.code.0, e.message))?;
    let entry = result
        .subs
        .first()
        .and_then(|s| s.ok.clone())
        .ok_or_else(|| {
            fail!(
                "the reconnect's subs entry failed: {:?}",
                result.subs.first().and_then(|s| s.error.clone())
            )
        })?;
    if !entry.recovered {
        return Err(fail!("the reconnect after a forced disconnect did not recover").into());
    }
    expect_page(
        "recovery after a forced reconnect",
        &channel,
        &entry.publications,
        &published,
        &[3, 4],
    )?;
    back.close().await;
    publisher.close().await;
    Ok(())
}
