//! Putting a scan's history into its analysis, and `--min-age`.

use std::time::Duration;

use jiff::Timestamp;

use crate::analyze::{Analysis, FindingHistory};

/// Give each finding its history (as [`super::Store::record`] returned it,
/// in the same order), and hold back lingering findings first seen less
/// than `min_age` before `now`: they become "new, watching", not lingering.
pub fn apply(
    analysis: &mut Analysis,
    histories: Vec<Option<FindingHistory>>,
    min_age: Option<Duration>,
    now: Timestamp,
) {
    for (finding, history) in analysis.findings.iter_mut().zip(histories) {
        let Some(mut history) = history else { continue };
        if let Some(min_age) = min_age
            && finding.lingering
            && !old_enough(history.first_seen, now, min_age)
        {
            finding.lingering = false;
            history.watching = true;
        }
        finding.history = Some(history);
    }
}

/// Whether something first seen at `first_seen` is at least `min_age` old at `now`.
pub fn old_enough(first_seen: Timestamp, now: Timestamp, min_age: Duration) -> bool {
    let age = now.duration_since(first_seen);
    age.is_positive() && age.unsigned_abs() >= min_age || min_age.is_zero()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn age_is_measured_from_the_first_sighting() {
        let h = Duration::from_secs(3600);
        assert!(!old_enough(
            t("2025-01-01T00:00:00Z"),
            t("2025-01-01T00:59:59Z"),
            h
        ));
        assert!(old_enough(
            t("2025-01-01T00:00:00Z"),
            t("2025-01-01T01:00:00Z"),
            h
        ));
        assert!(old_enough(
            t("2025-01-01T00:00:00Z"),
            t("2025-01-01T00:00:00Z"),
            Duration::ZERO
        ));
    }
}
