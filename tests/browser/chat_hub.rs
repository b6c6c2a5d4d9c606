//! The chat hub as people expect from Slack or Mattermost, in a real
//! browser: scrolling back through history, editing, deleting, reacting
//! and replying, direct messages, search across rooms, and unread counts
//! kept on the server so they follow the user to another session.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::harness::{Browser, Panel, ADMIN_PASSWORD, USER_PASSWORD};

/// A panel whose rate limits let a test post a long history quickly.
async fn panel() -> Option<Panel> {
    Panel::start_with(|c| {
        c.rate_limit_per_token = 100_000;
        c.rate_limit_per_ip = 100_000;
    })
    .await
}

async fn room(panel: &Panel, token: &str, name: &str, kind: &str, members: &[&str]) -> String {
    let created = panel
        .api(
            token,
            "POST",
            "/rooms",
            json!({"name": name, "kind": kind, "members": members}),
        )
        .await;
    created["id"].as_str().unwrap().to_string()
}

async fn say(panel: &Panel, token: &str, room: &str, body: &str) -> Value {
    panel
        .api(
            token,
            "POST",
            &format!("/rooms/{room}/messages"),
            json!({ "body": body }),
        )
        .await["message"]
        .clone()
}

async fn user_id(panel: &Panel, admin: &str, username: &str) -> String {
    let page = panel
        .api(admin, "GET", "/users?limit=200", Value::Null)
        .await;
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["username"] == username)
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// The bodies shown in the open room, top to bottom.
async fn shown(b: &Browser) -> Vec<String> {
    let v = b
        .script(
            "return [...document.querySelectorAll('#messages .msg .body')].map((e) => e.textContent);",
        )
        .await;
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

async fn eventually(what: &str, mut check: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !check().await {
        assert!(Instant::now() < deadline, "{what}");
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
}

pub async fn scrolling_to_the_top_loads_older_pages_back_to_the_first_of_200_messages() {
    let Some(panel) = panel().await else {
        return;
    };
    let admin = panel.admin().await;
    let room = room(&panel, &admin, "history", "channel", &[]).await;
    for i in 1..=200 {
        say(&panel, &admin, &room, &format!("line {i:03}")).await;
    }
    let a = panel.signed_in("admin", 1280, 800).await;
    a.goto(&panel, &format!("#/chat/{room}")).await;
    a.wait_text("#messages", "line 200").await;
    assert_eq!(shown(&a).await.len(), 50, "the newest page first");

    eventually("the first message never came back", async || {
        a.script("const m = document.getElementById('messages'); m.scrollTop = 0; m.dispatchEvent(new Event('scroll'));")
            .await;
        shown(&a).await.first().map(String::as_str) == Some("line 001")
    })
    .await;
    let all = shown(&a).await;
    let want: Vec<String> = (1..=200).map(|i| format!("line {i:03}")).collect();
    assert_eq!(all, want, "every message once, in order");
    // Nothing older remains: the button to load more is gone.
    let hidden = a
        .script("return document.getElementById('load-older').hidden;")
        .await;
    assert_eq!(hidden, json!(true));
    // One author in a row: one name and time for the run.
    let headed = a
        .script("return document.querySelectorAll('#messages .msg:not(.grouped)').length;")
        .await;
    assert!(
        headed.as_i64().unwrap() < 10,
        "consecutive messages were not grouped: {headed}"
    );
    a.close().await;
}

pub async fn a_member_edits_replies_reacts_and_deletes_in_the_room() {
    let Some(panel) = panel().await else {
        return;
    };
    let admin = panel.admin().await;
    let room = room(&panel, &admin, "team", "channel", &[]).await;
    let a = panel.signed_in("admin", 390, 844).await;
    a.goto(&panel, &format!("#/chat/{room}")).await;
    a.find("#chat-input").await;
    a.type_into("#chat-input", "frist draft").await;
    a.key("#chat-input", "\u{E007}").await;
    a.wait_text("#messages", "frist draft").await;

    // Edit: the text is replaced in place and marked edited.
    a.click("#messages [data-seq='1'] [data-action=edit]").await;
    let box_ = a.find("#messages [data-seq='1'] .edit-input").await;
    box_.clear().await.unwrap();
    a.type_into(
        "#messages [data-seq='1'] .edit-input",
        "first draft, **fixed**",
    )
    .await;
    a.key("#messages [data-seq='1'] .edit-input", "\u{E007}")
        .await;
    a.wait_text("#messages [data-seq='1']", "(edited)").await;
    a.wait_text("#messages [data-seq='1'] .body strong", "fixed")
        .await;

    // Reply: the answer quotes what it answers.
    a.click("#messages [data-seq='1'] [data-action=reply]")
        .await;
    a.wait_text("#replying", "Replying to").await;
    a.type_into("#chat-input", "an answer").await;
    a.key("#chat-input", "\u{E007}").await;
    a.wait_text("#messages [data-seq='2'] .reply-quote", "first draft")
        .await;

    // React: a thumbs-up, counted and pressed.
    a.click("#messages [data-seq='1'] [data-action=react]")
        .await;
    a.click("#messages [data-seq='1'] .picker button").await;
    a.wait_text("#messages [data-seq='1'] .reaction[aria-pressed=true]", "1")
        .await;

    // Delete the answer after confirming.
    a.click("#messages [data-seq='2'] [data-action=delete]")
        .await;
    a.accept_dialog().await;
    a.wait_text("#messages [data-seq='2']", "message deleted")
        .await;

    let history = panel
        .api(
            &admin,
            "GET",
            &format!("/rooms/{room}/messages"),
            Value::Null,
        )
        .await;
    assert_eq!(history[0]["body"], "first draft, **fixed**");
    assert_eq!(history[0]["reactions"][0]["emoji"], "👍");
    assert_eq!(history[1]["reply_to"], history[0]["id"]);
    assert!(history[1]["deleted_at"].is_string());
    a.close().await;
}

pub async fn opening_a_direct_message_names_it_after_the_other_person() {
    let Some(panel) = panel().await else {
        return;
    };
    let admin = panel.admin().await;
    panel.create_user(&admin, "bea", "user").await;
    let bea_id = user_id(&panel, &admin, "bea").await;
    let a = panel.browser_with(1280, 800, true).await;
    a.login(&panel, "admin", ADMIN_PASSWORD).await;
    a.goto(&panel, "#/chat").await;
    a.click("#new-room-box summary").await;
    a.select("#new-room-kind", "direct").await;
    a.select("#new-room-members", &bea_id).await;
    a.click("#new-room button[type=submit]").await;
    a.wait_text("#room-title", "@ bea").await;
    a.type_into("#chat-input", "just between us").await;
    a.key("#chat-input", "\u{E007}").await;
    a.wait_text("#messages", "just between us").await;

    let bea = panel.api_login("bea", USER_PASSWORD).await;
    let rooms = panel.api(&bea, "GET", "/rooms", Value::Null).await;
    let dm = rooms
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["kind"] == "direct")
        .expect("Bea has the direct room")
        .clone();
    assert_eq!(dm["unread"], 1);
    a.close().await;
}

pub async fn search_finds_messages_across_rooms_and_opens_the_one_picked() {
    let Some(panel) = panel().await else {
        return;
    };
    let admin = panel.admin().await;
    let sales = room(&panel, &admin, "sales", "channel", &[]).await;
    let support = room(&panel, &admin, "support", "group", &[]).await;
    say(&panel, &admin, &sales, "Northwind wants a quote").await;
    say(&panel, &admin, &support, "northwind printer is broken").await;
    say(&panel, &admin, &support, "unrelated").await;
    let a = panel.signed_in("admin", 1280, 800).await;
    a.goto(&panel, &format!("#/chat/{sales}")).await;
    a.find("#chat-search").await;
    a.type_into("#chat-search", "NORTHWIND").await;
    a.key("#chat-search", "\u{E007}").await;
    a.wait_text("#search-results", "northwind printer is broken")
        .await;
    a.wait_text("#search-results", "Northwind wants a quote")
        .await;
    let hits = a
        .script("return document.querySelectorAll('#search-results li').length;")
        .await;
    assert_eq!(hits, json!(2));
    a.click(&format!("#search-results a[href*='{support}']"))
        .await;
    a.wait_text("#room-title", "support").await;
    a.wait_text("#messages .msg.hit", "northwind printer is broken")
        .await;
    a.close().await;
}

pub async fn the_unread_count_follows_the_user_to_a_second_browser_session() {
    let Some(panel) = panel().await else {
        return;
    };
    let admin = panel.admin().await;
    panel.create_user(&admin, "bea", "user").await;
    let bea_id = user_id(&panel, &admin, "bea").await;
    let deals = room(&panel, &admin, "deals", "group", &[&bea_id]).await;
    let lobby = room(&panel, &admin, "lobby", "group", &[&bea_id]).await;
    for i in 1..=3 {
        say(&panel, &admin, &deals, &format!("deal {i}")).await;
    }

    // Bea's phone shows three unread in deals, then she reads them there.
    let phone = panel.signed_in("bea", 390, 844).await;
    phone.goto(&panel, &format!("#/chat/{lobby}")).await;
    phone
        .wait_text("#room-list a[data-room=deals] .badge", "3")
        .await;
    // Her laptop, another browser with its own storage, sees the same.
    let laptop = panel.signed_in("bea", 1280, 800).await;
    laptop.goto(&panel, &format!("#/chat/{lobby}")).await;
    laptop
        .wait_text("#room-list a[data-room=deals] .badge", "3")
        .await;

    phone.goto(&panel, &format!("#/chat/{deals}")).await;
    phone.wait_text("#messages", "deal 3").await;
    // The laptop hears it was read, without a reload...
    eventually("the laptop kept the unread badge", async || {
        laptop
            .script("return !document.querySelector('#room-list a[data-room=deals] .badge');")
            .await
            == json!(true)
    })
    .await;
    // ...and a fresh session starts from the server's marker.
    laptop.refresh().await;
    laptop.wait_text("#room-list", "deals").await;
    assert!(
        !laptop
            .appears(
                "#room-list a[data-room=deals] .badge",
                Duration::from_millis(500)
            )
            .await
    );
    // A new message is unread again, with the line above it.
    say(&panel, &admin, &deals, "deal 4").await;
    laptop
        .wait_text("#room-list a[data-room=deals] .badge", "1")
        .await;
    laptop.goto(&panel, &format!("#/chat/{deals}")).await;
    laptop.wait_text("#messages .divider", "New messages").await;
    let after_divider = laptop
        .script(
            "return document.querySelector('#messages .divider').nextElementSibling.textContent;",
        )
        .await;
    assert!(after_divider.as_str().unwrap().contains("deal 4"));
    phone.close().await;
    laptop.close().await;
}

pub async fn a_shared_image_shows_its_thumbnail_and_another_file_its_name() {
    let Some(panel) = panel().await else {
        return;
    };
    let admin = panel.admin().await;
    let room = room(&panel, &admin, "files", "channel", &[]).await;
    let mut png = Vec::new();
    image::RgbImage::from_pixel(640, 320, image::Rgb([30, 120, 200]))
        .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .unwrap();
    let path = format!("/rooms/{room}/files");
    panel.upload(&admin, &path, &[], "chart.png", &png).await;
    panel
        .upload(&admin, &path, &[], "minutes.txt", b"we agreed")
        .await;
    let a = panel.signed_in("admin", 390, 844).await;
    a.goto(&panel, &format!("#/chat/{room}")).await;
    a.wait_text("#messages [data-seq='2'] a.file", "minutes.txt")
        .await;
    eventually("the thumbnail never loaded", async || {
        a.script(
            "const i = document.querySelector('#messages [data-seq=\"1\"] img.thumb');
             return !!i && i.complete && i.naturalWidth > 0;",
        )
        .await
            == json!(true)
    })
    .await;
    a.close().await;
}

pub async fn a_private_group_is_made_with_its_people_who_are_then_added_and_removed() {
    let Some(panel) = panel().await else {
        return;
    };
    let admin = panel.admin().await;
    panel.create_user(&admin, "bea", "user").await;
    panel.create_user(&admin, "cyd", "user").await;
    let bea_id = user_id(&panel, &admin, "bea").await;
    let cy_id = user_id(&panel, &admin, "cyd").await;
    let a = panel.signed_in("admin", 390, 844).await;
    a.goto(&panel, "#/chat").await;
    a.click("#new-room-box summary").await;
    a.select("#new-room-kind", "group").await;
    a.type_into("#new-room-name", "war room").await;
    a.select("#new-room-members", &bea_id).await;
    a.click("#new-room button[type=submit]").await;
    a.wait_text("#room-title", "war room").await;
    a.click(".members-box summary").await;
    a.wait_text("#member-list", "bea").await;
    a.select("#add-member", &cy_id).await;
    a.click(".members-box form button[type=submit]").await;
    a.wait_text("#member-list", "cyd").await;
    a.click("#member-list li[data-user=bea] [data-action=remove]")
        .await;
    eventually("Bea was never removed", async || {
        a.script("return !document.querySelector('#member-list li[data-user=bea]');")
            .await
            == json!(true)
    })
    .await;

    let rooms = panel.api(&admin, "GET", "/rooms", Value::Null).await;
    let group = rooms
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "war room")
        .unwrap()
        .clone();
    assert_eq!(group["kind"], "group");
    let members = panel
        .api(
            &admin,
            "GET",
            &format!("/rooms/{}/members", group["id"].as_str().unwrap()),
            Value::Null,
        )
        .await;
    let mut ids: Vec<&str> = members
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["user"].as_str().unwrap())
        .collect();
    ids.sort();
    let admin_id = user_id(&panel, &admin, "admin").await;
    let mut want = vec![admin_id.as_str(), cy_id.as_str()];
    want.sort();
    assert_eq!(ids, want);
    a.close().await;
}

pub async fn a_message_is_pinned_and_unpinned_and_a_reminder_set_on_it_is_cancelled() {
    let Some(panel) = panel().await else {
        return;
    };
    let admin = panel.admin().await;
    let room = room(&panel, &admin, "ops", "channel", &[]).await;
    say(&panel, &admin, &room, "renew the Acme contract").await;
    let a = panel.browser_with(390, 844, true).await;
    a.login(&panel, "admin", ADMIN_PASSWORD).await;
    a.goto(&panel, &format!("#/chat/{room}")).await;
    a.wait_text("#messages", "renew the Acme contract").await;

    a.click("#messages [data-seq='1'] [data-action=pin]").await;
    a.wait_content("#pins", "renew the Acme contract").await;
    a.find("#messages [data-seq='1'] [data-action=unpin]").await;
    a.click("#messages [data-seq='1'] [data-action=unpin]")
        .await;
    a.wait_content("#pins", "Nothing pinned.").await;
    a.find("#messages [data-seq='1'] [data-action=pin]").await;

    // "Remind me" asks in how many minutes; the default (30) is taken.
    a.click("#messages [data-seq='1'] [data-action=remind]")
        .await;
    a.accept_dialog().await;
    a.wait_text(".toasts", "Reminder set").await;
    a.click(".reminders-box summary").await;
    a.wait_text("#reminders", "renew the Acme contract").await;
    a.click("#reminders button").await;
    a.wait_text("#reminders", "No reminders.").await;
    let left = panel.api(&admin, "GET", "/reminders", Value::Null).await;
    assert_eq!(left, json!({"items": []}));
    a.close().await;
}
