//! Plans and prompts as Markdown, rendered to HTML that can carry nothing
//! live: raw HTML in the source is shown as text, links keep only http(s),
//! mailto and relative targets, and images become links (a reviewer's page
//! never fetches what an agent pointed it at).

use pulldown_cmark::{html, CowStr, Event, Options, Parser, Tag, TagEnd};

pub fn to_safe_html(source: &str) -> String {
    let mut options = Options::empty();
    options.insert(Options::ENABLE_TABLES);
    options.insert(Options::ENABLE_STRIKETHROUGH);
    options.insert(Options::ENABLE_TASKLISTS);
    let events = Parser::new_ext(source, options).map(|event| match event {
        Event::Html(raw) | Event::InlineHtml(raw) => Event::Text(raw),
        // Images become links: nothing on the page loads what the agent named.
        Event::Start(
            Tag::Link {
                link_type,
                dest_url,
                title,
                id,
            }
            | Tag::Image {
                link_type,
                dest_url,
                title,
                id,
            },
        ) => Event::Start(Tag::Link {
            link_type,
            dest_url: safe_url(dest_url),
            title,
            id,
        }),
        Event::End(TagEnd::Image) => Event::End(TagEnd::Link),
        other => other,
    });
    let mut out = String::new();
    html::push_html(&mut out, events);
    out
}

/// Keeps web, mail and relative links; anything else (javascript:, data:,
/// vbscript:, file:) becomes an inert `#`.
fn safe_url(url: CowStr<'_>) -> CowStr<'_> {
    let lower = url.trim().to_ascii_lowercase();
    // `//host/x` is another site, not a path here: say so plainly. Browsers
    // read `/\host` and `\\host` as `//host` too; those are never needed.
    if lower.starts_with("//") {
        return CowStr::from(format!("https:{}", url.trim()));
    }
    if lower.starts_with("/\\") || lower.starts_with("\\") {
        return CowStr::Borrowed("#");
    }
    let scheme_end = lower.find(':');
    let first_slash = lower.find(['/', '?', '#']);
    let relative = match (scheme_end, first_slash) {
        (None, _) => true,
        (Some(colon), Some(slash)) => slash < colon,
        (Some(_), None) => false,
    };
    let allowed = ["http://", "https://", "mailto:"]
        .iter()
        .any(|p| lower.starts_with(p));
    if relative || allowed {
        url
    } else {
        CowStr::Borrowed("#")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_renders_and_nothing_in_it_is_live() {
        let html = to_safe_html("## Plan\n\n1. **look** up `INV-7`\n2. send");
        assert!(html.contains("<h2>Plan</h2>"), "{html}");
        assert!(html.contains("<strong>look</strong>"));
        assert!(html.contains("<code>INV-7</code>"));

        for hostile in [
            "<script>alert(1)</script>",
            "text <img src=x onerror=alert(1)> more",
            "<iframe src=\"https://evil.example\"></iframe>",
        ] {
            let html = to_safe_html(hostile);
            assert!(!html.contains("<script"), "{html}");
            assert!(!html.contains("<img"), "{html}");
            assert!(!html.contains("<iframe"), "{html}");
            assert!(html.contains("&lt;"), "{html}");
        }
        let html = to_safe_html(
            "[click](javascript:alert(1)) [ok](https://acme.example/x) [rel](/approvals) [far](//evil.example/p) [odd](/\\evil.example)",
        );
        assert!(!html.contains("javascript:"), "{html}");
        assert!(html.contains(r#"href="https://evil.example/p""#), "{html}");
        assert!(!html.contains("evil.example\""), "{html}");
        assert!(html.contains("href=\"https://acme.example/x\""));
        assert!(html.contains("href=\"/approvals\""));
        let html = to_safe_html(
            "![chart](https://tracker.example/pixel.gif) ![x](data:image/png;base64,AAAA)",
        );
        assert!(!html.contains("<img"), "{html}");
        assert!(html.contains("href=\"https://tracker.example/pixel.gif\""));
        assert!(!html.contains("data:"), "{html}");
    }
}
