//! What an agent may use, whatever its trust: how fast it submits, how many
//! of its requests wait for people at once, how much evidence it stores a
//! day, and how many long-polls it holds open. The server sets defaults;
//! a lead or admin may set any of them per agent.

/// One quota.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Submissions,
    Pending,
    EvidenceBytes,
    LongPolls,
}

impl Kind {
    pub const ALL: [Kind; 4] = [
        Kind::Submissions,
        Kind::Pending,
        Kind::EvidenceBytes,
        Kind::LongPolls,
    ];

    pub fn index(self) -> usize {
        self as usize
    }

    /// The name in logs, metrics and the CLI.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Submissions => "submissions_per_minute",
            Kind::Pending => "pending",
            Kind::EvidenceBytes => "evidence_bytes_per_day",
            Kind::LongPolls => "long_polls",
        }
    }

    /// What the number counts, for people.
    pub fn label(self) -> &'static str {
        match self {
            Kind::Submissions => "Submissions a minute",
            Kind::Pending => "Requests waiting for approval at once",
            Kind::EvidenceBytes => "Evidence stored a day (UTC), MiB",
            Kind::LongPolls => "Long-polls open at once",
        }
    }

    /// The smallest and largest value that may be set.
    pub fn range(self) -> (u64, u64) {
        match self {
            Kind::Submissions => (1, u32::MAX as u64),
            Kind::Pending => (0, 1_000_000),
            Kind::EvidenceBytes => (0, 1 << 40),
            Kind::LongPolls => (1, 10_000),
        }
    }
}

/// Every quota's value, in its unit (evidence in bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits([u64; 4]);

impl Default for Limits {
    fn default() -> Self {
        Limits([600, 1_000, 1 << 30, 16])
    }
}

impl Limits {
    pub fn get(&self, kind: Kind) -> u64 {
        self.0[kind.index()]
    }

    /// These limits with one changed; out of its range, an error saying so.
    pub fn with(mut self, kind: Kind, value: u64) -> Result<Self, String> {
        let (low, high) = kind.range();
        if !(low..=high).contains(&value) {
            return Err(format!(
                "{} must be between {low} and {high}",
                kind.as_str()
            ));
        }
        self.0[kind.index()] = value;
        Ok(self)
    }

    /// The agent's limits: its own where set, these defaults elsewhere.
    /// A stored value out of range (written by hand) counts as unset.
    pub fn for_agent(&self, mine: &Overrides) -> Limits {
        let mut out = *self;
        for kind in Kind::ALL {
            if let Some(v) = own(mine, kind) {
                out = out.with(kind, v).unwrap_or(out);
            }
        }
        out
    }
}

/// The quotas one agent has of its own, as the decision's index holds them.
pub use crate::policy::QuotaOverrides as Overrides;

/// One of an agent's own quotas (None: the server's default).
pub fn own(o: &Overrides, kind: Kind) -> Option<u64> {
    match kind {
        Kind::Submissions => o.submissions_per_minute,
        Kind::Pending => o.pending,
        Kind::EvidenceBytes => o.evidence_bytes_per_day,
        Kind::LongPolls => o.long_polls,
    }
}

/// A quota from a form or the command line, in its display unit
/// (evidence in whole MiB): blank or "default" is the server's default.
pub fn parse(kind: Kind, raw: &str) -> Result<Option<u64>, String> {
    let raw = raw.trim();
    if raw.is_empty() || raw.eq_ignore_ascii_case("default") {
        return Ok(None);
    }
    let n: u64 = raw.parse().map_err(|_| {
        format!(
            "{}: give a whole number, or leave it blank for the default",
            kind.label()
        )
    })?;
    let value = match kind {
        Kind::EvidenceBytes => n.checked_mul(1 << 20).ok_or("too large")?,
        _ => n,
    };
    Limits::default().with(kind, value).map_err(|_| {
        let (low, high) = kind.range();
        let (low, high) = match kind {
            Kind::EvidenceBytes => (low >> 20, high >> 20),
            _ => (low, high),
        };
        format!("{}: between {low} and {high}", kind.label())
    })?;
    Ok(Some(value))
}

/// A quota in its display unit (evidence in MiB, rounded down).
pub fn shown(kind: Kind, value: u64) -> u64 {
    match kind {
        Kind::EvidenceBytes => value >> 20,
        _ => value,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_agent_gets_its_own_limits_and_the_defaults_elsewhere() {
        let defaults = Limits::default();
        let mine = Overrides {
            submissions_per_minute: Some(5),
            evidence_bytes_per_day: Some(0),
            ..Default::default()
        };
        let limits = defaults.for_agent(&mine);
        assert_eq!(limits.get(Kind::Submissions), 5);
        assert_eq!(limits.get(Kind::Pending), 1_000);
        assert_eq!(limits.get(Kind::EvidenceBytes), 0);
        assert_eq!(limits.get(Kind::LongPolls), 16);
    }

    #[test]
    fn values_out_of_range_are_refused_and_stored_ones_ignored() {
        let defaults = Limits::default();
        assert!(defaults.with(Kind::Submissions, 0).is_err());
        assert!(defaults.with(Kind::LongPolls, 10_001).is_err());
        assert!(defaults.with(Kind::Pending, 0).is_ok());
        let mine = Overrides {
            submissions_per_minute: Some(0),
            long_polls: Some(u64::MAX),
            ..Default::default()
        };
        assert_eq!(defaults.for_agent(&mine), defaults);
    }

    #[test]
    fn forms_give_whole_numbers_in_display_units() {
        assert_eq!(parse(Kind::Pending, " "), Ok(None));
        assert_eq!(parse(Kind::Pending, "default"), Ok(None));
        assert_eq!(parse(Kind::Pending, "0"), Ok(Some(0)));
        assert_eq!(parse(Kind::EvidenceBytes, "2"), Ok(Some(2 << 20)));
        assert!(parse(Kind::Submissions, "0").is_err());
        assert!(parse(Kind::Submissions, "-1").is_err());
        assert!(parse(Kind::Submissions, "1.5").is_err());
        assert!(parse(Kind::EvidenceBytes, "99999999999999").is_err());
        assert_eq!(shown(Kind::EvidenceBytes, 3 << 20), 3);
    }
}
