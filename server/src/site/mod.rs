//! The compiled front end (wasm, js, css, favicon). The release binary that
//! cargo-leptos builds (`make run`) carries it, so `belay serve` runs from
//! any folder and always serves the front end built with it. Every other
//! build (the tests, lints, `cargo leptos watch`) serves the folder
//! cargo-leptos writes (`--site-root`), as Leptos does by default, and
//! compiles without one. build.rs decides which (cfg `embedded_site`).

// Outside the release build only the unit tests use the in-memory files.
#![cfg_attr(not(embedded_site), allow(dead_code))]

mod files;

use app::state::AppState;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use leptos::config::LeptosOptions;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;

#[cfg(embedded_site)]
mod compiled {
    include!(concat!(env!("OUT_DIR"), "/site.rs"));
}

/// The site inside this binary, read once per process.
#[cfg(embedded_site)]
fn embedded() -> &'static files::Files {
    static FILES: std::sync::OnceLock<files::Files> = std::sync::OnceLock::new();
    FILES.get_or_init(|| files::Files::new(compiled::FILES))
}

/// Leptos' options: where pages load the front end from.
pub fn options(site_root: &str, addr: SocketAddr) -> LeptosOptions {
    #[cfg(embedded_site)]
    let pkg_dir = {
        tracing::info!(
            version = embedded().version(),
            "serving the front end built into this binary"
        );
        format!("pkg/{}", embedded().version())
    };
    #[cfg(not(embedded_site))]
    let pkg_dir = {
        tracing::info!(site_root, "serving the front end from a folder");
        "pkg".to_string()
    };
    LeptosOptions::builder()
        .output_name("belay")
        .site_root(site_root)
        .site_pkg_dir(pkg_dir)
        .site_addr(addr)
        .build()
}

type Fallback = Pin<Box<dyn Future<Output = Response> + Send>>;

/// What answers every path no route takes: a file of the front end, or the
/// not-found page. `context` is what each page render gets.
pub fn fallback(
    context: impl Fn() + Clone + Send + Sync + 'static,
) -> impl Fn(State<AppState>, Request<Body>) -> Fallback + Clone + Send + Sync + 'static {
    #[cfg(embedded_site)]
    {
        use tower::Service;
        move |State(state): State<AppState>, req: Request<Body>| -> Fallback {
            if let Some(res) = embedded().respond(req.method(), req.uri().path(), req.headers()) {
                return Box::pin(std::future::ready(res));
            }
            // The folder is never read: only the embedded files are served.
            let options = state.leptos_options.clone();
            let mut page =
                leptos_axum::ErrorHandler::new_with_context(context.clone(), app::shell, options);
            Box::pin(async move {
                match page.call(req).await {
                    Ok(res) => res,
                    Err(never) => match never {},
                }
            })
        }
    }
    #[cfg(not(embedded_site))]
    {
        let serve =
            leptos_axum::file_and_error_handler_with_context::<AppState, _>(context, app::shell);
        move |state: State<AppState>, req: Request<Body>| -> Fallback {
            serve(req.uri().clone(), state, req)
        }
    }
}
