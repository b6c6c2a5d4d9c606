//! Sharing files in a room: typed by content, downloadable by members only,
//! attachments unless a safe image, thumbnails, and the size limit.

use std::io::Cursor;

use reqwest::StatusCode;
use serde_json::Value;

use crate::chat::group;
use crate::helpers::{error_of, multipart, TestApp};

pub async fn upload(
    app: &TestApp,
    token: &str,
    room: &str,
    name: &str,
    bytes: &[u8],
) -> reqwest::Response {
    let (content_type, body) = multipart(&[], name, bytes);
    app.request(
        reqwest::Method::POST,
        &format!("/api/v1/rooms/{room}/files"),
        Some(token),
    )
    .header("content-type", content_type)
    .body(body)
    .send()
    .await
    .unwrap()
}

fn png(width: u32, height: u32) -> Vec<u8> {
    let mut out = Vec::new();
    image::RgbImage::from_pixel(width, height, image::Rgb([200, 30, 30]))
        .write_to(&mut Cursor::new(&mut out), image::ImageFormat::Png)
        .unwrap();
    out
}

#[tokio::test]
async fn an_image_is_shown_inline_with_a_thumbnail_to_room_members() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (ann, ann_token) = app.user_with_role(&admin, "ann", "user").await;
    let room = group(&app, &admin, "designs", &[&ann]).await;
    let response = upload(&app, &admin, &room, "logo.bin", &png(800, 400)).await;
    assert_eq!(response.status(), StatusCode::OK);
    let shared: Value = response.json().await.unwrap();
    assert_eq!(
        shared["file"]["content_type"], "image/png",
        "typed by content, not name"
    );
    assert_eq!(shared["file"]["has_thumbnail"], true);
    let id = shared["file"]["id"].as_str().unwrap();
    assert_eq!(shared["message"]["file"], id);

    let download = app.get(&format!("/api/v1/files/{id}"), &ann_token).await;
    assert_eq!(download.status(), StatusCode::OK);
    assert_eq!(download.headers()["content-type"], "image/png");
    assert_eq!(download.headers()["x-content-type-options"], "nosniff");
    assert!(download.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .starts_with("inline"));
    assert_eq!(download.bytes().await.unwrap().to_vec(), png(800, 400));

    let thumb = app
        .get(&format!("/api/v1/files/{id}/thumbnail"), &ann_token)
        .await;
    assert_eq!(thumb.status(), StatusCode::OK);
    let decoded = image::load_from_memory(&thumb.bytes().await.unwrap()).unwrap();
    assert_eq!((decoded.width(), decoded.height()), (320, 160));
}

#[tokio::test]
async fn anything_but_a_safe_image_downloads_as_an_attachment() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let room = group(&app, &admin, "docs", &[]).await;
    let html = b"<html><script>alert(document.cookie)</script></html>";
    let shared: Value = upload(&app, &admin, &room, "cat.png", html)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        shared["file"]["content_type"], "text/html",
        "the name says png; the content does not"
    );
    assert_eq!(shared["file"]["has_thumbnail"], false);
    let id = shared["file"]["id"].as_str().unwrap();
    let download = app.get(&format!("/api/v1/files/{id}"), &admin).await;
    assert_eq!(
        download.headers()["content-type"],
        "application/octet-stream"
    );
    assert_eq!(
        download.headers()["content-disposition"],
        "attachment; filename=\"cat.png\""
    );
}

#[tokio::test]
async fn a_non_member_cannot_download_a_rooms_files() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let (_, eve) = app.user_with_role(&admin, "eve", "user").await;
    let room = group(&app, &admin, "contracts", &[]).await;
    let shared: Value = upload(&app, &admin, &room, "a.png", &png(10, 10))
        .await
        .json()
        .await
        .unwrap();
    let id = shared["file"]["id"].as_str().unwrap();
    for path in [
        format!("/api/v1/files/{id}"),
        format!("/api/v1/files/{id}/thumbnail"),
    ] {
        let (status, code, _) = error_of(app.get(&path, &eve).await).await;
        assert_eq!(
            (status, code.as_str()),
            (StatusCode::NOT_FOUND, "not_found"),
            "{path}"
        );
    }
    let response = upload(&app, &eve, &room, "x.png", &png(10, 10)).await;
    assert_eq!(
        response.status(),
        StatusCode::NOT_FOUND,
        "nor upload into it"
    );
}

#[tokio::test]
async fn an_upload_over_the_limit_is_refused_with_413() {
    let app = TestApp::spawn_with(|c| c.max_upload_mb = 1).await;
    let admin = app.admin_token().await;
    let room = group(&app, &admin, "big", &[]).await;
    let response = upload(&app, &admin, &room, "big.bin", &vec![7u8; 2 * 1024 * 1024]).await;
    let (status, code, _) = error_of(response).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
    );
    let files = std::fs::read_dir(app.upload_dir())
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(files, 0, "nothing was written");
}
