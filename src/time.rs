//! Capture time. Every timestamp in zmqtrace comes from a packet header, never
//! from the wall clock, so replaying a file and capturing live behave alike.

use std::fmt;

/// Nanoseconds since the Unix epoch, as recorded by the capture.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(u64);

/// How many fractional digits a timestamp is printed with. Microsecond
/// captures print 6 digits; nanosecond captures print 9 so no precision the
/// file carried is thrown away.
#[derive(Copy, Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub enum Precision {
    #[default]
    Micro,
    Nano,
}

impl Timestamp {
    pub const ZERO: Timestamp = Timestamp(0);

    pub const fn from_nanos(nanos: u64) -> Self {
        Timestamp(nanos)
    }

    pub fn from_secs_micros(secs: u64, micros: u64) -> Self {
        Timestamp(
            secs.saturating_mul(1_000_000_000)
                .saturating_add(micros.saturating_mul(1_000)),
        )
    }

    pub fn from_secs_nanos(secs: u64, nanos: u64) -> Self {
        Timestamp(secs.saturating_mul(1_000_000_000).saturating_add(nanos))
    }

    pub const fn as_nanos(self) -> u64 {
        self.0
    }

    /// Nanoseconds from `earlier` to `self`, zero if `earlier` is later.
    pub fn nanos_since(self, earlier: Timestamp) -> u64 {
        self.0.saturating_sub(earlier.0)
    }

    pub fn display(self, precision: Precision) -> TimestampDisplay {
        TimestampDisplay {
            ts: self,
            precision,
        }
    }
}

/// Seconds since the epoch with a fixed number of fractional digits, the form
/// the JSON Lines contract asks for (`1700000000.123456`).
pub struct TimestampDisplay {
    ts: Timestamp,
    precision: Precision,
}

impl fmt::Display for TimestampDisplay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.ts.0 / 1_000_000_000;
        let nanos = self.ts.0 % 1_000_000_000;
        match self.precision {
            Precision::Micro => write!(f, "{secs}.{:06}", nanos / 1_000),
            Precision::Nano => write!(f, "{secs}.{nanos:09}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_fixed_fractional_digits() {
        let ts = Timestamp::from_secs_nanos(1_700_000_000, 1_234_567);
        assert_eq!(
            ts.display(Precision::Micro).to_string(),
            "1700000000.001234"
        );
        assert_eq!(
            ts.display(Precision::Nano).to_string(),
            "1700000000.001234567"
        );
    }

    #[test]
    fn saturates_instead_of_overflowing() {
        let ts = Timestamp::from_secs_micros(u64::MAX, 5);
        assert_eq!(ts.as_nanos(), u64::MAX);
        assert_eq!(Timestamp::ZERO.nanos_since(ts), 0);
    }
}
