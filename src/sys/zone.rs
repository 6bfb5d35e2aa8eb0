//! Named time zones (pm2-logrotate's `TZ`), read from the system's tz database at run time.
//! The tz-rs crate rather than chrono-tz: chrono-tz compiles every zone into the binary, which
//! put a megabyte of relocated tables into the resident memory of every daemon, most of which
//! never names a zone. Without a tz database (some slim images), POSIX rules such as `JST-9`
//! or `CET-1CEST,M3.5.0,M10.5.0/3` still work.

/// A zone by the name it was given, and its rules.
#[derive(Debug, Clone)]
pub struct Zone {
    name: String,
    tz: tz::TimeZone,
}

impl PartialEq for Zone {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Zone {
    /// A tz database name (`Europe/Paris`) or a POSIX TZ rule.
    pub fn named(name: &str) -> Result<Zone, String> {
        let tz = tz::TimeZone::from_posix_tz(name).map_err(|e| e.to_string())?;
        Ok(Zone {
            name: name.to_string(),
            tz,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Seconds east of UTC at `unix_time`.
    pub fn offset_at(&self, unix_time: i64) -> i32 {
        self.tz
            .find_local_time_type(unix_time)
            .map(|t| t.ut_offset())
            .unwrap_or(0)
    }

    /// `utc` as a local time in this zone, for formatting.
    pub fn localize(
        &self,
        utc: chrono::DateTime<chrono::Utc>,
    ) -> chrono::DateTime<chrono::FixedOffset> {
        let offset = chrono::FixedOffset::east_opt(self.offset_at(utc.timestamp()))
            .unwrap_or_else(|| chrono::FixedOffset::east_opt(0).expect("0 is a valid offset"));
        utc.with_timezone(&offset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_rules() {
        let at = chrono::DateTime::parse_from_rfc3339("2024-07-01T12:00:00Z")
            .expect("date")
            .with_timezone(&chrono::Utc);
        let tokyo = Zone::named("Asia/Tokyo").expect("in the tz database");
        assert_eq!(tokyo.offset_at(at.timestamp()), 9 * 3600);
        assert_eq!(tokyo.localize(at).format("%H").to_string(), "21");
        // Summer time from the database, and from a POSIX rule alone.
        assert_eq!(
            Zone::named("Europe/Paris")
                .expect("db")
                .offset_at(at.timestamp()),
            7200
        );
        let rule = Zone::named("CET-1CEST,M3.5.0,M10.5.0/3").expect("posix rule");
        assert_eq!(rule.offset_at(at.timestamp()), 7200);
        assert_eq!(Zone::named("Etc/GMT+1").expect("db").offset_at(0), -3600);
        assert!(Zone::named("Mars/Olympus").is_err());
        assert!(Zone::named("").is_err());
    }
}
