//! Slide decks and images in the blob store: local directory and S3 (a real SeaweedFS).

use cloud_api::blob::BlobStore;
use serde_json::json;
use studio_tests::*;

async fn deck_upload(app: &TestApp, s: &School, pages: usize) -> Answer {
    app.upload(
        &s.teacher.token,
        &[("sessionId", &s.session), ("type", "slide"), ("title", "Kinematics")],
        pdf(pages),
        "deck.pdf",
    )
    .await
}

async fn pdf_becomes_a_deck(db: Db) {
    let app = TestApp::spawn(db).await;
    let s = app.school("Decks").await;
    // Prepared before class: a deck may be added once the class is scheduled (decks prepared offline
    // in the studio arrive then); it is in the state the class starts with.
    let early = deck_upload(&app, &s, 2).await;
    assert_eq!(early.status, 201, "{:?}", early.body);
    let scheduled = app.get(&format!("/api/sessions/{}/state", s.session), &s.teacher.token).await;
    assert_eq!(scheduled.body["state"]["status"], "scheduled");
    assert_eq!(scheduled.body["state"]["decks"][early.body["id"].as_str().unwrap()]["pageCount"], 2);
    app.live(&s).await;
    let before = app.all_events(&s.teacher.token, &s.session).await.len();
    let by_student =
        app.upload(&s.student.token, &[("sessionId", &s.session), ("type", "slide")], pdf(2), "x.pdf").await;
    assert_eq!(by_student.status, 403);
    let junk = app
        .upload(&s.teacher.token, &[("sessionId", &s.session), ("type", "slide")], b"not a pdf".to_vec(), "x.pdf")
        .await;
    assert_eq!(junk.status, 422);
    let broken = app
        .upload(
            &s.teacher.token,
            &[("sessionId", &s.session), ("type", "slide")],
            b"%PDF-1.4 garbage".to_vec(),
            "x.pdf",
        )
        .await;
    assert_eq!(broken.status, 422, "{:?}", broken.body);
    assert_eq!(app.all_events(&s.teacher.token, &s.session).await.len(), before, "refusals write nothing");

    let up = deck_upload(&app, &s, 3).await;
    assert_eq!(up.status, 201, "{:?}", up.body);
    assert_eq!(up.body["pageCount"], 3);
    assert_eq!(up.body["title"], "Kinematics");
    assert_eq!(up.body["event"]["type"], "slide.deck_added");
    assert_eq!(up.body["event"]["payload"]["pageCount"], 3);
    let id = up.body["id"].as_str().unwrap().to_string();
    let pages = up.body["pages"].as_array().unwrap();
    assert_eq!(pages.len(), 3);
    // Every participant can fetch the rendered pages and the source through signed URLs.
    let asset = app.get(&format!("/api/studio/assets/{id}"), &s.student.token).await;
    assert_eq!(asset.status, 200);
    let (status, png) = app.fetch(asset.body["pages"][2].as_str().unwrap()).await;
    assert_eq!(status, 200);
    assert!(png.starts_with(b"\x89PNG"), "a rendered page is a PNG");
    let (status, src) = app.fetch(asset.body["contentUrl"].as_str().unwrap()).await;
    assert_eq!((status, src), (200, pdf(3)));
    assert_eq!(app.get(&format!("/api/studio/assets/{id}"), &s.outsider.token).await.status, 403);
    // Tampered links are refused.
    let url = asset.body["pages"][0].as_str().unwrap();
    let tampered = url.replace("page-0001", "page-0002");
    assert_eq!(app.fetch(&tampered).await.0, 403);
    // Slides of the deck can be shown, within its page count.
    let show = app
        .post("/api/studio/slides/show", &s.teacher.token, json!({"sessionId": s.session, "assetId": id, "page": 3}))
        .await;
    assert_eq!(show.status, 200, "{:?}", show.body);
    let off = app
        .post("/api/studio/slides/show", &s.teacher.token, json!({"sessionId": s.session, "assetId": id, "page": 4}))
        .await;
    assert_eq!(off.status, 422);
    let state = app.get(&format!("/api/sessions/{}/state", s.session), &s.student.token).await;
    assert_eq!(state.body["state"]["currentSlide"], json!({"assetId": id, "page": 3}));
    assert_eq!(state.body["state"]["decks"][&id]["pageCount"], 3);
    // Images are state changes too: an `asset.added` event, committed with the asset.
    let png1 = app.fetch(url).await.1;
    let img = app.upload(&s.teacher.token, &[("sessionId", &s.session), ("type", "image")], png1, "p.png").await;
    assert_eq!(img.status, 201, "{:?}", img.body);
    assert_eq!(img.body["event"]["type"], "asset.added");
    assert_eq!(img.body["event"]["payload"]["kind"], "image");
    let img_id = img.body["id"].as_str().unwrap();
    let state = app.get(&format!("/api/sessions/{}/state", s.session), &s.student.token).await;
    assert_eq!(state.body["state"]["images"][img_id], "image");
}

#[test]
fn local_links_expire() {
    let blobs = cloud_api::blob::LocalBlobs::in_data_dir(&cloud_api::spawned::Scratch::new("blobs")).unwrap();
    // Two seconds: a link signed for none expires at the second it was made, and the check right
    // after could fall in the next second (it did, on a loaded machine).
    let path = blobs.signed_path("a/b.png", std::time::Duration::from_secs(2));
    let (_, query) = path.split_once('?').unwrap();
    let expires: i64 = query.split('&').find_map(|kv| kv.strip_prefix("expires=")).unwrap().parse().unwrap();
    let sig = query.split('&').find_map(|kv| kv.strip_prefix("signature=")).unwrap();
    assert!(blobs.verify("a/b.png", expires, sig), "valid at once");
    assert!(!blobs.verify("a/c.png", expires, sig), "bound to its key");
    // Once the clock has passed its expiry (waited for, not slept) it is refused.
    while chrono::Utc::now().timestamp() <= expires {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(!blobs.verify("a/b.png", expires, sig), "expired");
}

on_both!(pdf_becomes_a_deck);

/// S3 round trip through SeaweedFS: upload a deck, fetch pages by presigned URL, tampering and expiry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_round_trip_and_presigned_expiry() {
    let s3 = S3Server::start();
    let cfg = s3.config.clone();
    let app = TestApp::spawn_with(Db::Sqlite, move |c| c.s3 = Some(cfg)).await;
    let s = app.school("S3").await;
    app.live(&s).await;
    let up = deck_upload(&app, &s, 2).await;
    assert_eq!(up.status, 201, "{:?}", up.body);
    let page = up.body["pages"][1].as_str().unwrap().to_string();
    assert!(page.starts_with(&s3.config.endpoint), "a presigned S3 URL: {page}");
    assert!(page.contains("X-Amz-Signature="));
    let (status, png) = app.fetch(&page).await;
    assert_eq!(status, 200);
    assert!(png.starts_with(b"\x89PNG"));
    let (status, src) = app.fetch(up.body["contentUrl"].as_str().unwrap()).await;
    assert_eq!((status, src), (200, pdf(2)));
    // A tampered signature is refused by S3.
    let bad = page.replace("X-Amz-Signature=", "X-Amz-Signature=0");
    assert_eq!(app.fetch(&bad).await.0, 403);
    // A URL that has expired is refused.
    let store = BlobStore::S3(cloud_api::blob::S3Blobs::connect(&s3.config).await.unwrap());
    let key = format!("sessions/{}/assets/{}/page-0001.png", s.session, up.body["id"].as_str().unwrap());
    // S3 signs to the whole second (X-Amz-Date), so a URL may lose up to a second of its life at once:
    // give it three and wait until the end it states has passed.
    let short = store.signed_url(&key, std::time::Duration::from_secs(3)).await.unwrap();
    assert_eq!(app.fetch(&short).await.0, 200, "fresh presigned URL");
    tokio::time::sleep(until_expired(&short)).await;
    assert_eq!(app.fetch(&short).await.0, 403, "expired presigned URL");
}

/// How long until a presigned URL's `X-Amz-Date` + `X-Amz-Expires` is behind us, with a second to spare.
fn until_expired(url: &str) -> std::time::Duration {
    let param = |name: &str| {
        url.split(['?', '&']).find_map(|kv| kv.strip_prefix(name)).unwrap_or_else(|| panic!("{name} in {url}"))
    };
    let signed = chrono::NaiveDateTime::parse_from_str(param("X-Amz-Date="), "%Y%m%dT%H%M%SZ").unwrap().and_utc();
    let life: i64 = param("X-Amz-Expires=").parse().unwrap();
    let end = signed + chrono::Duration::seconds(life + 1);
    (end - chrono::Utc::now()).to_std().unwrap_or_default()
}

/// The blob store goes down mid-class: uploads answer 503 and nothing is half-written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_down_means_503_and_nothing_written() {
    let s3 = S3Server::start();
    let cfg = s3.config.clone();
    let app = TestApp::spawn_with(Db::Sqlite, move |c| c.s3 = Some(cfg)).await;
    let s = app.school("S3 down").await;
    app.live(&s).await;
    s3.stop();
    let before = app.all_events(&s.teacher.token, &s.session).await.len();
    let up = deck_upload(&app, &s, 2).await;
    assert_eq!(up.status, 503, "{:?}", up.body);
    assert_eq!(up.code(), "blob_store_unavailable");
    assert_eq!(app.all_events(&s.teacher.token, &s.session).await.len(), before);
    // The class goes on: chat still works.
    let chat = app.post("/api/chat", &s.student.token, json!({"sessionId": s.session, "content": "still here"})).await;
    assert_eq!(chat.status, 201);
}
