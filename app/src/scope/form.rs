//! The grant form, parsed at the edge, and a grant shown back as the form
//! would show it.

use super::{GrantForm, GrantView};
use crate::error::AppError;
use crate::policy::{Bound, Grant, Stage, TargetRule};

const MAX_LINES: usize = 50;

/// Parses the form at the edge: every field is checked and each problem
/// named, so nothing half-understood is stored.
pub fn parse_form(form: &GrantForm, now: i64) -> Result<Grant, AppError> {
    let capability = form.capability.trim();
    if capability.is_empty() {
        return Err(AppError::validation("choose a capability to grant"));
    }
    let stage = match form.stage.trim() {
        "" => None,
        s => Some(Stage::parse(s).map_err(AppError::Validation)?),
    };
    let max_per_hour = match form.max_per_hour.trim() {
        "" => None,
        s => match s.parse::<u32>() {
            Ok(n) if (1..=1_000_000).contains(&n) => Some(n),
            _ => {
                return Err(AppError::validation(
                    "the hourly limit is a whole number from 1 to 1000000, or blank for none",
                ))
            }
        },
    };
    let bounds = lines(&form.bounds, "bounds")?
        .map(|l| Bound::parse(l).map_err(AppError::Validation))
        .collect::<Result<Vec<_>, _>>()?;
    let targets = lines(&form.targets, "targets")?
        .map(|l| TargetRule::parse(l).map_err(AppError::Validation))
        .collect::<Result<Vec<_>, _>>()?;
    let expires_at_ms = match form.expires_on.trim() {
        "" => None,
        s => {
            let at = crate::db::day_start_ms(s).ok_or_else(|| {
                AppError::validation(format!("{s:?} is not a date like 2027-01-31"))
            })?;
            if at <= now {
                return Err(AppError::validation(
                    "the expiry date must be in the future",
                ));
            }
            Some(at)
        }
    };
    Ok(Grant {
        capability: capability.to_string(),
        stage,
        max_per_hour,
        bounds,
        targets,
        expires_at_ms,
    })
}

fn lines<'a>(raw: &'a str, what: &str) -> Result<impl Iterator<Item = &'a str>, AppError> {
    let count = raw.lines().filter(|l| !l.trim().is_empty()).count();
    if count > MAX_LINES {
        return Err(AppError::validation(format!("at most {MAX_LINES} {what}")));
    }
    Ok(raw.lines().filter(|l| !l.trim().is_empty()))
}

fn format_day(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(ms.div_euclid(1000))
        .map(|t| {
            let d = t.date();
            format!("{:04}-{:02}-{:02}", d.year(), u8::from(d.month()), d.day())
        })
        .unwrap_or_else(|_| "unknown".into())
}

pub fn view(g: &Grant, now: i64) -> GrantView {
    GrantView {
        capability: g.capability.clone(),
        stage: g.stage,
        max_per_hour: g.max_per_hour,
        bounds: g.bounds.iter().map(|b| b.to_string()).collect(),
        targets: g.targets.iter().map(|t| t.to_string()).collect(),
        expires_on: g.expires_at_ms.map(format_day),
        expired: g.expired(now),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form() -> GrantForm {
        GrantForm {
            capability: "billing.refund".into(),
            stage: "scoped_autonomy".into(),
            max_per_hour: "20".into(),
            bounds: "amount <= 500\n\n currency_count < 3 ".into(),
            targets: "customer:acme\ncustomer:test-*".into(),
            expires_on: "2099-01-31".into(),
        }
    }

    #[test]
    fn a_complete_form_parses_into_a_grant() {
        let g = parse_form(&form(), 0).unwrap();
        assert_eq!(g.stage, Some(Stage::ScopedAutonomy));
        assert_eq!(g.max_per_hour, Some(20));
        assert_eq!(g.bounds.len(), 2);
        assert_eq!(g.targets[1], TargetRule::Prefix("customer:test-".into()));
        assert_eq!(view(&g, 0).expires_on.as_deref(), Some("2099-01-31"));
    }

    #[test]
    fn each_bad_field_is_refused_with_its_reason() {
        for (edit, expect) in [
            (
                GrantForm {
                    capability: " ".into(),
                    ..form()
                },
                "choose a capability",
            ),
            (
                GrantForm {
                    stage: "god".into(),
                    ..form()
                },
                "unknown stage",
            ),
            (
                GrantForm {
                    max_per_hour: "0".into(),
                    ..form()
                },
                "hourly limit",
            ),
            (
                GrantForm {
                    bounds: "amount <= lots".into(),
                    ..form()
                },
                "not a bound",
            ),
            (
                GrantForm {
                    targets: "*".into(),
                    ..form()
                },
                "must not be empty",
            ),
            (
                GrantForm {
                    expires_on: "2020-01-01".into(),
                    ..form()
                },
                "in the future",
            ),
            (
                GrantForm {
                    expires_on: "2099-02-30".into(),
                    ..form()
                },
                "not a date",
            ),
            (
                GrantForm {
                    targets: "t\n".repeat(51),
                    ..form()
                },
                "at most 50",
            ),
        ] {
            let err = parse_form(&edit, crate::db::now_ms())
                .unwrap_err()
                .to_string();
            assert!(err.contains(expect), "{edit:?}: {err}");
        }
    }
}
