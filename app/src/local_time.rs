//! Times in the reader's time zone. The server renders UTC (it cannot know
//! the zone); the browser renders the same text while it hydrates, so the
//! markup matches, and only then an effect switches to local time. UTC
//! stays in the `title`.

use crate::clock;
use leptos::prelude::*;

/// A moment, in the reader's zone once the page is live. With `ago`, how
/// long ago follows it ("· 3 min ago"), kept current.
#[component]
pub fn LocalTime(ms: i64, #[prop(optional)] ago: bool) -> impl IntoView {
    let utc = clock::display(ms);
    let text = RwSignal::new(utc.clone());
    let since = RwSignal::new(None::<String>);
    Effect::new(move |_| {
        text.set(local(ms));
        if ago {
            since.set(Some(clock::ago(ms, browser_now())));
            every(30, move || since.set(Some(clock::ago(ms, browser_now()))));
        }
    });
    view! {
        <time datetime=clock::iso(ms) title=utc data-testid="local-time">{move || text.get()}</time>
        {move || since.get().map(|s| view! { <span class="muted">" · " {s}</span> })}
    }
}

/// How long a request has waited, first by the server's clock at `now_ms`
/// (so the server and the browser render the same), then ticking on in the
/// browser from when the page arrived; every 10 s, as it shows seconds.
#[component]
pub fn Waited(from_ms: i64, now_ms: i64) -> impl IntoView {
    let text = RwSignal::new(clock::age(from_ms, now_ms));
    Effect::new(move |_| {
        let arrived = browser_now();
        every(10, move || {
            let server_now = now_ms + (browser_now() - arrived);
            text.set(clock::age(from_ms, server_now));
        });
    });
    view! {
        <time datetime=clock::iso(from_ms) title=format!("since {}", clock::display(from_ms))>
            {move || text.get()}
        </time>
    }
}

/// Runs `tick` every `secs` seconds while the calling component is on the page.
fn every(secs: u64, tick: impl Fn() + 'static) {
    if let Ok(handle) = set_interval_with_handle(tick, std::time::Duration::from_secs(secs)) {
        on_cleanup(move || handle.clear());
    }
}

#[cfg(feature = "hydrate")]
fn browser_now() -> i64 {
    leptos::web_sys::js_sys::Date::now() as i64
}

// Effects never run on the server; these only satisfy the type checker.
#[cfg(not(feature = "hydrate"))]
fn browser_now() -> i64 {
    0
}

/// "23 Nov 2026, 21:41 CET" in the browser's locale and zone.
#[cfg(feature = "hydrate")]
fn local(ms: i64) -> String {
    use leptos::wasm_bindgen::JsValue;
    use leptos::web_sys::js_sys::{Array, Date, Intl, Object, Reflect};
    let options = Object::new();
    for (key, value) in [
        ("year", "numeric"),
        ("month", "short"),
        ("day", "numeric"),
        ("hour", "2-digit"),
        ("minute", "2-digit"),
        ("timeZoneName", "short"),
    ] {
        let _ = Reflect::set(&options, &key.into(), &value.into());
    }
    let format = Intl::DateTimeFormat::new(&Array::new(), &options).format();
    format
        .call1(&JsValue::NULL, &Date::new(&JsValue::from_f64(ms as f64)))
        .ok()
        .and_then(|s| s.as_string())
        .unwrap_or_else(|| clock::display(ms))
}

#[cfg(not(feature = "hydrate"))]
fn local(ms: i64) -> String {
    clock::display(ms)
}

/// A time a store already wrote as UTC text (`clock::display`), shown like
/// `LocalTime`; any other text ("never", a bare date) as it is.
#[component]
pub fn TimeText(#[prop(into)] text: String) -> impl IntoView {
    match clock::parse_display(&text) {
        Some(ms) => view! { <LocalTime ms/> }.into_any(),
        None => text.into_any(),
    }
}
