//! The front end's files and the pages that load them, as a debug build
//! serves them: from the site folder (a release binary carries its own;
//! end2end/binary checks that one).

use crate::common::TestApp;

#[tokio::test]
async fn pages_are_never_stored_and_the_folder_serves_the_front_end() {
    let site = tempfile::tempdir().unwrap();
    std::fs::create_dir(site.path().join("pkg")).unwrap();
    std::fs::write(site.path().join("pkg/belay.css"), "body{}").unwrap();
    let root = site.path().display().to_string();
    let app = TestApp::spawn_with(|s| s.site_root = root).await;
    let browser = app.anonymous_browser();

    let login = browser.page("/login").await;
    assert_eq!(login.status(), 200);
    assert_eq!(login.headers()["cache-control"], "no-store");
    let html = login.text().await.unwrap();
    assert!(
        html.contains(r#"rel="stylesheet" href="/pkg/belay.css""#),
        "{html}"
    );
    assert!(html.contains("/pkg/belay.wasm"), "{html}");

    let css = browser.page("/pkg/belay.css").await;
    assert_eq!(css.status(), 200);
    assert_eq!(css.headers()["x-content-type-options"], "nosniff");
    assert!(css.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/css"));
    assert_eq!(css.text().await.unwrap(), "body{}");

    // A file that is not there is the not-found page, not stored either.
    let missing = browser.page("/pkg/missing.js").await;
    assert_eq!(missing.status(), 404);
    assert_eq!(missing.headers()["cache-control"], "no-store");
}
