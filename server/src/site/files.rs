//! The front end's files held in memory, served the way browsers cache best.
//! Everything under `pkg/` (wasm, js, css) is served only under
//! `/pkg/<version>/…`, where the version is a hash of the whole site: a new
//! build gets new names, so these are kept for a year (`immutable`). The few
//! files whose names pages cannot change (`/favicon.svg`) are revalidated
//! by their ETag. A file goes out br- or gzip-compressed when the browser
//! accepts that and the build made the compressed copy (`name.br`,
//! `name.gz`, from cargo-leptos `--precompress`).

use axum::body::Body;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::Response;
use sha2::{Digest, Sha256};
use std::collections::HashMap;

const IMMUTABLE: &str = "public, max-age=31536000, immutable";
const REVALIDATE: &str = "no-cache";

pub struct Files {
    version: String,
    files: HashMap<&'static str, File>,
}

struct File {
    plain: &'static [u8],
    br: Option<&'static [u8]>,
    gz: Option<&'static [u8]>,
    /// A hash of the plain content; each encoding's ETag adds its name.
    tag: String,
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Encoding {
    Identity,
    Br,
    Gzip,
}

impl Files {
    /// From (path relative to the site root, content) pairs, as build.rs lists them.
    pub fn new(site: &[(&'static str, &'static [u8])]) -> Files {
        let all: HashMap<&'static str, &'static [u8]> = site.iter().copied().collect();
        let variant = |path: &str, ext: &str| all.get(format!("{path}.{ext}").as_str()).copied();
        let is_variant = |path: &str| {
            [".br", ".gz"].iter().any(|ext| {
                path.strip_suffix(ext)
                    .is_some_and(|base| all.contains_key(base))
            })
        };
        let mut files = HashMap::new();
        let mut site_hash = Sha256::new();
        let mut paths: Vec<&'static str> = all.keys().copied().collect();
        paths.sort_unstable();
        for path in paths {
            if is_variant(path) {
                continue;
            }
            let plain = all[path];
            let tag = hex(&Sha256::digest(plain)[..12]);
            site_hash.update(format!("{path}\0{tag}\0"));
            let br = variant(path, "br");
            let gz = variant(path, "gz");
            files.insert(path, File { plain, br, gz, tag });
        }
        Files {
            version: hex(&site_hash.finalize()[..8]),
            files,
        }
    }

    /// Changes whenever any file of the site does.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The answer for a GET or HEAD of `path`, or None when the site has no
    /// such file (the caller renders the not-found page).
    pub fn respond(&self, method: &Method, path: &str, headers: &HeaderMap) -> Option<Response> {
        if method != Method::GET && method != Method::HEAD {
            return None;
        }
        let path = path.strip_prefix('/')?;
        let (key, cache) = match path.strip_prefix("pkg/") {
            Some(rest) => {
                let (version, name) = rest.split_once('/')?;
                if version != self.version {
                    return None;
                }
                (format!("pkg/{name}"), IMMUTABLE)
            }
            None => (path.to_string(), REVALIDATE),
        };
        let file = self.files.get(key.as_str())?;
        let encoding = choose(headers.get(header::ACCEPT_ENCODING), file);
        let (body, etag) = match encoding {
            Encoding::Br => (file.br?, format!("\"{}.br\"", file.tag)),
            Encoding::Gzip => (file.gz?, format!("\"{}.gz\"", file.tag)),
            Encoding::Identity => (file.plain, format!("\"{}\"", file.tag)),
        };
        let mut res = if fresh(headers.get(header::IF_NONE_MATCH), &etag) {
            let mut res = Response::new(Body::empty());
            *res.status_mut() = StatusCode::NOT_MODIFIED;
            res
        } else {
            let mut res = Response::new(Body::from(body));
            res.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(content_type(&key)),
            );
            res
        };
        let h = res.headers_mut();
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
        if let Ok(etag) = HeaderValue::from_str(&etag) {
            h.insert(header::ETAG, etag);
        }
        if file.br.is_some() || file.gz.is_some() {
            h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
        }
        match encoding {
            Encoding::Br => h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("br")),
            Encoding::Gzip => h.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip")),
            Encoding::Identity => None,
        };
        Some(res)
    }
}

/// The encoding the browser ranks highest among those this file has (br
/// before gzip on a tie); plain when it accepts neither.
fn choose(accept: Option<&HeaderValue>, file: &File) -> Encoding {
    let accept = accept.and_then(|v| v.to_str().ok()).unwrap_or("");
    let mut br = None;
    let mut gzip = None;
    let mut any = None;
    for item in accept.split(',') {
        let mut parts = item.split(';');
        let name = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let q = parts
            .find_map(|p| p.trim().strip_prefix("q="))
            .map_or(Some(1.0), |q| q.trim().parse::<f32>().ok())
            .unwrap_or(0.0);
        match name.as_str() {
            "br" => br = Some(q),
            "gzip" | "x-gzip" => gzip = Some(q),
            "*" => any = Some(q),
            _ => {}
        }
    }
    let br = if file.br.is_some() {
        br.or(any).unwrap_or(0.0)
    } else {
        0.0
    };
    let gzip = if file.gz.is_some() {
        gzip.or(any).unwrap_or(0.0)
    } else {
        0.0
    };
    if br > 0.0 && br >= gzip {
        Encoding::Br
    } else if gzip > 0.0 {
        Encoding::Gzip
    } else {
        Encoding::Identity
    }
}

/// Whether the browser's copy (If-None-Match, compared weakly) is this one.
fn fresh(if_none_match: Option<&HeaderValue>, etag: &str) -> bool {
    let Some(list) = if_none_match.and_then(|v| v.to_str().ok()) else {
        return false;
    };
    list.split(',').map(str::trim).any(|candidate| {
        candidate == "*" || candidate.strip_prefix("W/").unwrap_or(candidate) == etag
    })
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map_or("", |(_, ext)| ext) {
        "wasm" => "application/wasm",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "svg" => "image/svg+xml",
        "html" => "text/html; charset=utf-8",
        "json" | "map" => "application/json",
        "txt" => "text/plain; charset=utf-8",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        _ => "application/octet-stream",
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
#[path = "files_tests.rs"]
mod tests;
