//! Small types shared by several pipeline stages.

use serde::Serialize;

/// Capture time in microseconds since the Unix epoch (nanosecond captures are truncated).
pub type TimestampUs = i64;

/// 1-based frame number, counted as Wireshark counts them in the same file.
pub type FrameNo = u64;

/// Direction of a byte stream within a TCP connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Dir {
    /// From the client (connection initiator) to the server.
    ToServer,
    /// From the server to the client.
    ToClient,
}

impl Dir {
    pub fn reverse(self) -> Dir {
        match self {
            Dir::ToServer => Dir::ToClient,
            Dir::ToClient => Dir::ToServer,
        }
    }
    /// The side that sends in this direction.
    pub fn sender(self) -> Side {
        match self {
            Dir::ToServer => Side::Client,
            Dir::ToClient => Side::Server,
        }
    }
    pub fn index(self) -> usize {
        match self {
            Dir::ToServer => 0,
            Dir::ToClient => 1,
        }
    }
}

/// One end of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Side {
    Client,
    Server,
}

impl Side {
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Client => "client",
            Side::Server => "server",
        }
    }
}

/// The wall clock, as a capture timestamp (for `live`, which stamps its own records).
pub fn now_us() -> TimestampUs {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// RFC 3339 UTC with microseconds, e.g. "2024-05-01T10:02:03.123456Z".
pub fn format_ts_us(ts_us: TimestampUs) -> String {
    DisplayTs(ts_us).to_string()
}

/// The calendar part of [`DisplayTs`] and [`format_secs`], to the second.
struct Calendar<'a>(&'a time::OffsetDateTime);

impl std::fmt::Display for Calendar<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let t = self.0;
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        )
    }
}

/// [`format_ts_us`] as a `Display`, to write a timestamp without allocating.
pub struct DisplayTs(pub TimestampUs);

impl std::fmt::Display for DisplayTs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use std::cell::Cell;
        // Records come in capture order, so most share their second with the one before:
        // the calendar part is formatted once per second and thread.
        thread_local! {
            static LAST_SECOND: Cell<Option<(i64, [u8; 19])>> = const { Cell::new(None) };
        }
        let ts_us = self.0;
        let secs = ts_us.div_euclid(1_000_000);
        let micros = ts_us.rem_euclid(1_000_000);
        let date = match LAST_SECOND.get() {
            Some((s, date)) if s == secs => date,
            _ => {
                let Ok(t) = time::OffsetDateTime::from_unix_timestamp(secs) else {
                    return write!(f, "@{ts_us}us");
                };
                let mut date = [0u8; 19];
                let mut w = &mut date[..];
                let written = std::io::Write::write_fmt(&mut w, format_args!("{}", Calendar(&t)));
                if written.is_err() || !w.is_empty() {
                    // Years before -999 do not fit the fixed width.
                    return write!(f, "{}.{micros:06}Z", Calendar(&t));
                }
                LAST_SECOND.set(Some((secs, date)));
                date
            }
        };
        let mut frac = *b".000000Z";
        let mut m = micros;
        for d in frac[1..7].iter_mut().rev() {
            *d = b'0' + (m % 10) as u8;
            m /= 10;
        }
        f.write_str(std::str::from_utf8(&date).map_err(|_| std::fmt::Error)?)?;
        f.write_str(std::str::from_utf8(&frac).map_err(|_| std::fmt::Error)?)
    }
}

/// RFC 3339 UTC with second precision, for certificate validity dates.
pub fn format_secs(secs: i64) -> String {
    match time::OffsetDateTime::from_unix_timestamp(secs) {
        Ok(t) => format!("{}Z", Calendar(&t)),
        Err(_) => format!("@{secs}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_times() {
        assert_eq!(format_ts_us(0), "1970-01-01T00:00:00.000000Z");
        assert_eq!(
            format_ts_us(1_700_000_000_123_456),
            "2023-11-14T22:13:20.123456Z"
        );
        assert_eq!(format_ts_us(-1), "1969-12-31T23:59:59.999999Z");
        assert_eq!(format_secs(-1), "1969-12-31T23:59:59Z");
        // The per-second cache: same second, other microseconds; then other seconds.
        assert_eq!(
            format_ts_us(1_700_000_000_000_001),
            "2023-11-14T22:13:20.000001Z"
        );
        assert_eq!(format_ts_us(17_000_000_015), "1970-01-01T04:43:20.000015Z");
        assert_eq!(format_ts_us(i64::MAX), format!("@{}us", i64::MAX));
        // Years that need more than four characters.
        assert_eq!(
            format_ts_us(-100_000_000_000_000_000),
            "-1199-02-15T14:13:20.000000Z"
        );
        assert_eq!(format_secs(i64::MAX), format!("@{}", i64::MAX));
    }
}
