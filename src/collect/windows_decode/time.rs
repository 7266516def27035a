//! Windows times: FILETIME / LARGE_INTEGER counts of 100 ns since 1601-01-01 UTC.

use jiff::Timestamp;

/// 100 ns intervals between 1601-01-01 and 1970-01-01.
const UNIX_EPOCH_AS_FILETIME: i64 = 116_444_736_000_000_000;
const TICKS_PER_SECOND: i64 = 10_000_000;

/// A FILETIME as a timestamp. Zero and the "never" value (`i64::MAX`) mean
/// "no time", as does anything outside jiff's range; they give `None`.
pub fn filetime_to_timestamp(ticks: i64) -> Option<Timestamp> {
    if ticks <= 0 || ticks == i64::MAX {
        return None;
    }
    let since_unix = ticks - UNIX_EPOCH_AS_FILETIME;
    let seconds = since_unix.div_euclid(TICKS_PER_SECOND);
    // rem_euclid of a positive divisor is in 0..10^7, so this fits in i32.
    let nanos = i32::try_from(since_unix.rem_euclid(TICKS_PER_SECOND) * 100).ok()?;
    Timestamp::new(seconds, nanos).ok()
}

/// A FILETIME split into its two 32-bit halves (as `FILETIME` stores it).
pub fn filetime_parts_to_timestamp(low: u32, high: u32) -> Option<Timestamp> {
    let ticks = (u64::from(high) << 32) | u64::from(low);
    filetime_to_timestamp(i64::try_from(ticks).ok()?)
}

/// Whole seconds from `earlier` to `later` (both FILETIME ticks), if both are set
/// and in order.
pub fn filetime_seconds_between(earlier: i64, later: i64) -> Option<u64> {
    if earlier <= 0 || later <= 0 || later < earlier {
        return None;
    }
    u64::try_from((later - earlier) / TICKS_PER_SECOND).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_instants() {
        assert_eq!(
            filetime_to_timestamp(UNIX_EPOCH_AS_FILETIME),
            Some(Timestamp::UNIX_EPOCH)
        );
        // 2024-01-02T03:04:05.5Z
        let ts: Timestamp = "2024-01-02T03:04:05.5Z".parse().unwrap();
        let ticks = UNIX_EPOCH_AS_FILETIME + ts.as_second() * TICKS_PER_SECOND + 5_000_000;
        assert_eq!(filetime_to_timestamp(ticks), Some(ts));
        assert_eq!(
            filetime_parts_to_timestamp(ticks as u32, (ticks >> 32) as u32),
            Some(ts)
        );
        // Before 1970 still works (1601 itself is in jiff's range).
        assert_eq!(
            filetime_to_timestamp(1),
            Some("1601-01-01T00:00:00.0000001Z".parse().unwrap())
        );
    }

    #[test]
    fn zero_never_and_negative_are_no_time() {
        assert_eq!(filetime_to_timestamp(0), None);
        assert_eq!(filetime_to_timestamp(i64::MAX), None);
        assert_eq!(filetime_to_timestamp(-5), None);
        assert_eq!(filetime_parts_to_timestamp(u32::MAX, u32::MAX), None);
    }

    #[test]
    fn seconds_between_requires_order() {
        assert_eq!(
            filetime_seconds_between(10 * TICKS_PER_SECOND, 70 * TICKS_PER_SECOND),
            Some(60)
        );
        assert_eq!(
            filetime_seconds_between(70 * TICKS_PER_SECOND, 10 * TICKS_PER_SECOND),
            None
        );
        assert_eq!(filetime_seconds_between(0, 10), None);
    }

    proptest! {
        #[test]
        fn never_panics_and_preserves_order(a in any::<i64>(), b in any::<i64>()) {
            let (ta, tb) = (filetime_to_timestamp(a), filetime_to_timestamp(b));
            if let (Some(ta), Some(tb)) = (ta, tb) {
                prop_assert_eq!(a.cmp(&b), ta.cmp(&tb));
            }
        }
    }
}
