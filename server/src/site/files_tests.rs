use super::*;

static SITE: &[(&str, &[u8])] = &[
    ("pkg/belay.wasm", b"\0asm plain"),
    ("pkg/belay.wasm.br", b"wasm in br"),
    ("pkg/belay.wasm.gz", b"wasm in gzip"),
    ("pkg/belay.js", b"export default 1"),
    ("pkg/belay.js.gz", b"js in gzip"),
    ("favicon.svg", b"<svg/>"),
];

fn get(files: &Files, path: &str, headers: &[(&'static str, &'static str)]) -> Option<Response> {
    let mut h = HeaderMap::new();
    for (k, v) in headers {
        h.insert(*k, HeaderValue::from_static(v));
    }
    files.respond(&Method::GET, path, &h)
}

fn header<'a>(res: &'a Response, name: &str) -> &'a str {
    res.headers().get(name).map_or("", |v| v.to_str().unwrap())
}

async fn body(res: Response) -> Vec<u8> {
    axum::body::to_bytes(res.into_body(), usize::MAX)
        .await
        .unwrap()
        .to_vec()
}

#[tokio::test]
async fn pkg_files_are_served_only_under_the_version_and_kept_for_good() {
    let files = Files::new(SITE);
    let v = files.version().to_string();
    let res = get(&files, &format!("/pkg/{v}/belay.wasm"), &[]).expect("served");
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(header(&res, "cache-control"), IMMUTABLE);
    assert_eq!(header(&res, "content-type"), "application/wasm");
    assert_eq!(header(&res, "content-encoding"), "");
    assert_eq!(header(&res, "vary"), "accept-encoding");
    assert_eq!(body(res).await, b"\0asm plain");

    // Another build's names, unversioned names and the compressed copies
    // themselves are not files of this site.
    assert!(get(&files, "/pkg/0123456789abcdef/belay.wasm", &[]).is_none());
    assert!(get(&files, "/pkg/belay.wasm", &[]).is_none());
    assert!(get(&files, &format!("/pkg/{v}/belay.wasm.br"), &[]).is_none());
    assert!(get(&files, &format!("/pkg/{v}"), &[]).is_none());
    assert!(get(&files, "/missing.svg", &[]).is_none());
    let post = files.respond(&Method::POST, "/favicon.svg", &HeaderMap::new());
    assert!(post.is_none());
}

#[tokio::test]
async fn the_compressed_copy_the_browser_ranks_highest_goes_out() {
    let files = Files::new(SITE);
    let wasm = format!("/pkg/{}/belay.wasm", files.version());
    let cases: [(&'static str, &str, &[u8]); 7] = [
        ("gzip, deflate, br, zstd", "br", b"wasm in br"),
        ("gzip", "gzip", b"wasm in gzip"),
        ("br;q=0, gzip", "gzip", b"wasm in gzip"),
        ("br;q=0.5, gzip;q=0.8", "gzip", b"wasm in gzip"),
        ("*", "br", b"wasm in br"),
        ("identity", "", b"\0asm plain"),
        ("br;q=0, gzip;q=0, *", "", b"\0asm plain"),
    ];
    for (accept, encoding, content) in cases {
        let res = get(&files, &wasm, &[("accept-encoding", accept)]).unwrap();
        assert_eq!(header(&res, "content-encoding"), encoding, "{accept}");
        assert_eq!(header(&res, "content-type"), "application/wasm", "{accept}");
        assert_eq!(body(res).await, content, "{accept}");
    }
    // The js has no br copy: a browser that takes br gets the gzip one.
    let js = format!("/pkg/{}/belay.js", files.version());
    let res = get(&files, &js, &[("accept-encoding", "br, gzip")]).unwrap();
    assert_eq!(header(&res, "content-encoding"), "gzip");
    assert_eq!(
        header(&res, "content-type"),
        "text/javascript; charset=utf-8"
    );
}

#[tokio::test]
async fn fixed_names_are_revalidated_by_their_etag() {
    let files = Files::new(SITE);
    let res = get(&files, "/favicon.svg", &[]).unwrap();
    assert_eq!(header(&res, "cache-control"), "no-cache");
    assert_eq!(header(&res, "content-type"), "image/svg+xml");
    assert_eq!(header(&res, "vary"), "");
    let etag = header(&res, "etag").to_string();
    assert!(etag.starts_with('"') && etag.len() > 10, "{etag}");

    let mut h = HeaderMap::new();
    h.insert("if-none-match", HeaderValue::from_str(&etag).unwrap());
    let res = files.respond(&Method::GET, "/favicon.svg", &h).unwrap();
    assert_eq!(res.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(header(&res, "etag"), etag);
    assert!(body(res).await.is_empty());
    h.insert(
        "if-none-match",
        HeaderValue::from_str(&format!("\"other\", W/{etag}")).unwrap(),
    );
    let res = files.respond(&Method::HEAD, "/favicon.svg", &h).unwrap();
    assert_eq!(res.status(), StatusCode::NOT_MODIFIED);
    h.insert("if-none-match", HeaderValue::from_static("\"other\""));
    let res = files.respond(&Method::GET, "/favicon.svg", &h).unwrap();
    assert_eq!(res.status(), StatusCode::OK);
}

#[test]
fn each_encoding_has_its_own_etag_and_the_version_follows_the_content() {
    let files = Files::new(SITE);
    let wasm = format!("/pkg/{}/belay.wasm", files.version());
    let tags: Vec<String> = ["br", "gzip", "identity"]
        .iter()
        .map(|accept| {
            let mut h = HeaderMap::new();
            h.insert("accept-encoding", HeaderValue::from_static(accept));
            let res = files.respond(&Method::GET, &wasm, &h).unwrap();
            header(&res, "etag").to_string()
        })
        .collect();
    assert!(tags[0] != tags[1] && tags[1] != tags[2] && tags[0] != tags[2]);

    let mut changed = SITE.to_vec();
    changed[3] = ("pkg/belay.js", b"export default 2");
    assert_ne!(Files::new(&changed).version(), files.version());
    assert_eq!(Files::new(SITE).version(), files.version());
    assert_eq!(files.version().len(), 16);
}
