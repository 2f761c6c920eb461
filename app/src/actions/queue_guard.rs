//! When the `a` key may approve a queued request: it is selected, its
//! details (params and evidence) are on screen, they are not cut short, and
//! it has been on the list a few seconds. Keys are fast and the list moves
//! under them (new requests sort in half a second after they arrive), so a
//! request that just arrived must not be approved by a key meant for another.

use super::model::QueueRow;
use std::collections::HashMap;

/// How long a request is on the list before a key may approve it.
pub const SETTLE_MS: f64 = 3_000.0;

/// When each request on the list may first be approved by a key, on the
/// browser's monotonic clock (milliseconds, `performance.now()`).
#[derive(Debug, Default)]
pub struct Arrivals {
    /// The list (filters and page) these times belong to.
    list: Option<String>,
    ready: HashMap<String, Ready>,
}

#[derive(Debug, Clone, Copy)]
struct Ready {
    at: f64,
    why: Wait,
}

/// Why a request has to wait before a key may approve it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// The agent submitted it moments ago.
    JustArrived,
    /// It is older, but only now came onto this list (from another page, or
    /// another replica's change seen late).
    JustAppeared,
}

impl Arrivals {
    /// Records the rows of a fresh read of `list`, read when the server's
    /// clock said `server_now_ms` and received at `client_now`. Rows already
    /// on the list keep their time; rows that left are forgotten (if they
    /// come back, they wait again). True when this is the list's first read.
    pub fn saw(
        &mut self,
        list: &str,
        rows: &[QueueRow],
        server_now_ms: i64,
        client_now: f64,
    ) -> bool {
        let first = self.list.as_deref() != Some(list);
        if first {
            self.list = Some(list.to_string());
            self.ready.clear();
        }
        let mut ready = HashMap::with_capacity(rows.len());
        for r in rows {
            let known = self.ready.get(&r.id).copied();
            ready.insert(
                r.id.clone(),
                known.unwrap_or_else(|| arrival(r, first, server_now_ms, client_now)),
            );
        }
        self.ready = ready;
        first
    }

    /// How long `id` still has to wait, and why; `None` when it need not.
    /// A request this list has not seen waits the full time.
    pub fn wait_left(&self, id: &str, client_now: f64) -> Option<(Wait, f64)> {
        match self.ready.get(id) {
            Some(r) if r.at > client_now => Some((r.why, r.at - client_now)),
            Some(_) => None,
            None => Some((Wait::JustAppeared, SETTLE_MS)),
        }
    }
}

/// A new row's time. Its age comes from the server's clock alone (created
/// and "now" both read there), so a skewed browser clock cannot shorten the
/// wait. Rows of the first read wait only until they are `SETTLE_MS` old;
/// rows that come in later also wait `SETTLE_MS` from when they came.
fn arrival(r: &QueueRow, first: bool, server_now_ms: i64, client_now: f64) -> Ready {
    let age = (server_now_ms - r.created_at_ms).max(0) as f64;
    let wait = if first {
        (SETTLE_MS - age).max(0.0)
    } else {
        SETTLE_MS
    };
    let why = if age < SETTLE_MS {
        Wait::JustArrived
    } else {
        Wait::JustAppeared
    };
    Ready {
        at: client_now + wait,
        why,
    }
}

/// What the page shows for the selected request, as the key finds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Shown {
    /// Its details are on screen, showing this payload hash.
    Yes { hash: String },
    /// Its details are drawn but scrolled out of view.
    OffScreen,
    /// No details for it are drawn (yet).
    No,
}

/// Why `a` did nothing; shown in the page's status line.
#[derive(Debug, Clone, PartialEq)]
pub enum Refusal {
    NothingSelected,
    LeftTheList,
    Busy,
    NotOnScreen,
    TooLongToShow,
    TooNew(Wait, f64),
}

impl Refusal {
    pub fn message(&self) -> String {
        match self {
            Refusal::NothingSelected => {
                "Nothing is selected: j and k select a request and show its details.".into()
            }
            Refusal::LeftTheList => {
                "That request is no longer on this list; nothing was approved.".into()
            }
            Refusal::Busy => "Still sending the last approval.".into(),
            Refusal::NotOnScreen => "Its details are not on screen: they are scrolled into view \
                 now. Look them over, then press a again."
                .into(),
            Refusal::TooLongToShow => "Its params are too long to show here: press Enter to \
                 read them all and decide on its page."
                .into(),
            Refusal::TooNew(why, left_ms) => {
                let secs = (left_ms / 1000.0).ceil().max(1.0);
                let what = match why {
                    Wait::JustArrived => "It just arrived",
                    Wait::JustAppeared => "It just appeared on this list",
                };
                format!("{what}: look it over first (a works in {secs} s).")
            }
        }
    }
}

/// Whether `a` may approve `row` (the selected request, if it is still on
/// the list) now; `Ok` carries the payload hash on screen, which the
/// approval binds to.
pub fn may_approve(
    selected: Option<&str>,
    row: Option<&QueueRow>,
    shown: Shown,
    busy: bool,
    arrivals: &Arrivals,
    client_now: f64,
) -> Result<String, Refusal> {
    let Some(id) = selected else {
        return Err(Refusal::NothingSelected);
    };
    let Some(row) = row.filter(|r| r.id == id) else {
        return Err(Refusal::LeftTheList);
    };
    if busy {
        return Err(Refusal::Busy);
    }
    let hash = match shown {
        Shown::Yes { hash } => hash,
        Shown::OffScreen | Shown::No => return Err(Refusal::NotOnScreen),
    };
    if row.params_cut {
        return Err(Refusal::TooLongToShow);
    }
    if let Some((why, left)) = arrivals.wait_left(id, client_now) {
        return Err(Refusal::TooNew(why, left));
    }
    Ok(hash)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::Stage;

    fn row(id: &str, created_at_ms: i64) -> QueueRow {
        QueueRow {
            id: id.into(),
            agent_name: "mailer".into(),
            capability: "email.send".into(),
            capability_known: true,
            triggers: vec![],
            held_for: vec![],
            summary: "Send the reminder".into(),
            target: "ap@acme.example".into(),
            created_at_ms,
            expires_at_ms: None,
            approvals_required: 1,
            approvals: 0,
            stage: Stage::ActWithApproval,
            risk: 1,
            payload_hash: format!("hash-{id}"),
            params: "{}".into(),
            params_cut: false,
            edited: false,
            evidence: vec![],
        }
    }

    fn on_screen(id: &str) -> Shown {
        Shown::Yes {
            hash: format!("hash-{id}"),
        }
    }

    /// `a` pressed at `at` with `r` selected and its details on screen.
    fn key(a: &Arrivals, r: &QueueRow, at: f64) -> Result<String, Refusal> {
        may_approve(Some(&r.id), Some(r), on_screen(&r.id), false, a, at)
    }

    #[test]
    fn an_old_request_on_the_first_read_may_be_approved_at_once() {
        let mut a = Arrivals::default();
        let old = row("old", 10_000);
        a.saw("/approvals", std::slice::from_ref(&old), 60_000, 500.0);
        assert_eq!(key(&a, &old, 500.0), Ok("hash-old".into()));
    }

    #[test]
    fn a_request_submitted_a_second_ago_waits_until_it_is_three_seconds_old() {
        let mut a = Arrivals::default();
        let new = row("new", 59_000);
        a.saw("/approvals", std::slice::from_ref(&new), 60_000, 500.0);
        let early = key(&a, &new, 2_000.0);
        assert_eq!(early, Err(Refusal::TooNew(Wait::JustArrived, 500.0)));
        assert!(key(&a, &new, 2_500.0).is_ok());
    }

    #[test]
    fn a_request_that_comes_in_on_a_later_read_waits_from_when_it_came_even_if_old() {
        let mut a = Arrivals::default();
        a.saw("/approvals", &[row("x", 0)], 60_000, 0.0);
        let late = row("late", 1_000);
        a.saw("/approvals", &[late.clone(), row("x", 0)], 90_000, 30_000.0);
        let got = key(&a, &late, 31_000.0);
        assert_eq!(got, Err(Refusal::TooNew(Wait::JustAppeared, 2_000.0)));
        assert!(a.wait_left("x", 30_000.0).is_none(), "x keeps its time");
        assert!(a.wait_left("late", 33_000.0).is_none());
    }

    #[test]
    fn a_skewed_browser_clock_does_not_shorten_the_wait() {
        // Only server times make the age; the browser's clock only counts on.
        let mut a = Arrivals::default();
        a.saw("/approvals", &[row("new", 59_900)], 60_000, 1e12);
        assert!(a.wait_left("new", 1e12 + 2_800.0).is_some());
    }

    #[test]
    fn another_list_starts_afresh_and_a_request_that_left_and_came_back_waits_again() {
        let mut a = Arrivals::default();
        assert!(a.saw("/approvals", &[row("x", 0)], 60_000, 0.0));
        assert!(!a.saw("/approvals", &[row("x", 0)], 61_000, 1_000.0));
        assert!(a.saw("/approvals?stage=propose", &[row("x", 0)], 60_000, 10_000.0));
        // The first read of another list: x is old, so it need not wait.
        assert!(a.wait_left("x", 10_000.0).is_none());
        a.saw("/approvals?stage=propose", &[], 70_000, 20_000.0);
        a.saw("/approvals?stage=propose", &[row("x", 0)], 71_000, 21_000.0);
        assert!(a.wait_left("x", 22_000.0).is_some());
        assert!(a.wait_left("never-seen", 1e9).is_some());
    }

    #[test]
    fn the_key_refuses_what_is_not_selected_shown_whole_or_still_there() {
        let mut a = Arrivals::default();
        let (old, cut) = (
            row("old", 0),
            QueueRow {
                params_cut: true,
                ..row("cut", 0)
            },
        );
        a.saw("/approvals", &[old.clone(), cut.clone()], 60_000, 0.0);
        let at = |sel, r, shown, busy| may_approve(sel, r, shown, busy, &a, 0.0);
        assert_eq!(
            at(None, None, Shown::No, false),
            Err(Refusal::NothingSelected)
        );
        assert_eq!(
            at(Some("gone"), None, Shown::No, false),
            Err(Refusal::LeftTheList)
        );
        assert_eq!(
            at(Some("gone"), Some(&old), on_screen("old"), false),
            Err(Refusal::LeftTheList),
            "never a different request than the one selected"
        );
        assert_eq!(
            at(Some("old"), Some(&old), Shown::No, false),
            Err(Refusal::NotOnScreen)
        );
        assert_eq!(
            at(Some("old"), Some(&old), Shown::OffScreen, false),
            Err(Refusal::NotOnScreen)
        );
        assert_eq!(
            at(Some("old"), Some(&old), on_screen("old"), true),
            Err(Refusal::Busy)
        );
        assert_eq!(
            at(Some("cut"), Some(&cut), on_screen("cut"), false),
            Err(Refusal::TooLongToShow)
        );
    }

    #[test]
    fn the_wait_is_told_in_whole_seconds_rounded_up() {
        let msg = Refusal::TooNew(Wait::JustArrived, 1_200.0).message();
        assert_eq!(msg, "It just arrived: look it over first (a works in 2 s).");
    }
}
