//! Dates and hours in America/Sao_Paulo: business days, national holidays and the hours a payer may be
//! contacted. Every rule about "when" lives here.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::America::Sao_Paulo;
use chrono_tz::Tz;

pub const TIME_ZONE: Tz = Sao_Paulo;

/// The calendar date in São Paulo at an instant.
pub fn local_date(at: DateTime<Utc>) -> NaiveDate {
    at.with_timezone(&TIME_ZONE).date_naive()
}

/// The instant of a wall-clock time on a São Paulo date. Brazil has had no DST since 2019, but the time zone
/// database still knows the old transitions, so an ambiguous or skipped time resolves to the earliest valid one.
pub fn local_instant(date: NaiveDate, time: NaiveTime) -> DateTime<Utc> {
    let naive = date.and_time(time);
    match TIME_ZONE.from_local_datetime(&naive) {
        chrono::LocalResult::Single(t) => t.with_timezone(&Utc),
        chrono::LocalResult::Ambiguous(a, _) => a.with_timezone(&Utc),
        chrono::LocalResult::None => {
            let later = naive + Duration::hours(1);
            TIME_ZONE.from_local_datetime(&later).earliest().expect("an hour after a DST gap exists").with_timezone(&Utc)
        }
    }
}

/// Easter Sunday (Gregorian), by the anonymous Gregorian algorithm (Meeus/Jones/Butcher).
pub fn easter(year: i32) -> NaiveDate {
    let a = year % 19;
    let b = year / 100;
    let c = year % 100;
    let d = b / 4;
    let e = b % 4;
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let i = c / 4;
    let k = c % 4;
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    NaiveDate::from_ymd_opt(year, month as u32, day as u32).expect("Easter is a valid date")
}

/// National holidays, plus Carnaval and Corpus Christi, which banks and most businesses keep closed although
/// they are "pontos facultativos" by law. Computed for any year, not listed per year.
pub fn is_national_holiday(date: NaiveDate) -> bool {
    const FIXED: [(u32, u32); 9] = [(1, 1), (4, 21), (5, 1), (9, 7), (10, 12), (11, 2), (11, 15), (11, 20), (12, 25)];
    if FIXED.contains(&(date.month(), date.day())) {
        // Dia da Consciência Negra became a national holiday in 2024 (Lei 14.759/2023).
        return !(date.month() == 11 && date.day() == 20 && date.year() < 2024);
    }
    let easter = easter(date.year());
    let offset = (date - easter).num_days();
    // Carnaval Monday and Tuesday, Sexta-feira Santa, Corpus Christi.
    matches!(offset, -48 | -47 | -2 | 60)
}

pub fn is_business_day(date: NaiveDate) -> bool {
    !matches!(date.weekday(), Weekday::Sat | Weekday::Sun) && !is_national_holiday(date)
}

/// A due date on a weekend or holiday moves to the next business day before a charge counts as overdue.
pub fn effective_due_date(due: NaiveDate) -> NaiveDate {
    let mut d = due;
    while !is_business_day(d) {
        d = d.succ_opt().expect("date in range");
    }
    d
}

/// The hours in which a payer may be contacted, [open, close) in São Paulo wall-clock time; never on Sundays or
/// national holidays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContactHours {
    pub weekdays: (NaiveTime, NaiveTime),
    /// None: not on Saturdays.
    pub saturdays: Option<(NaiveTime, NaiveTime)>,
}

impl ContactHours {
    /// The widest hours we ever use, after the strictest state rule we know (São Paulo, Lei 16.276/2016):
    /// weekdays 08–20, Saturdays 08–14. Merchants may narrow them per channel, never widen them.
    pub fn legal() -> Self {
        let hm = |h| NaiveTime::from_hms_opt(h, 0, 0).expect("valid hour");
        Self { weekdays: (hm(8), hm(20)), saturdays: Some((hm(8), hm(14))) }
    }

    pub fn window(&self, date: NaiveDate) -> Option<(NaiveTime, NaiveTime)> {
        if is_national_holiday(date) {
            return None;
        }
        match date.weekday() {
            Weekday::Sun => None,
            Weekday::Sat => self.saturdays,
            _ => Some(self.weekdays),
        }
    }

    /// Whether these hours sit inside the legal ones (and each window opens before it closes).
    pub fn within_legal(&self) -> bool {
        let legal = Self::legal();
        let inside = |(o, c): (NaiveTime, NaiveTime), (lo, lc): (NaiveTime, NaiveTime)| o < c && o >= lo && c <= lc;
        inside(self.weekdays, legal.weekdays)
            && match (self.saturdays, legal.saturdays) {
                (None, _) => true,
                (Some(s), Some(l)) => inside(s, l),
                (Some(_), None) => false,
            }
    }

    /// The first instant at or after `at` inside these hours. The one place quiet hours are applied.
    pub fn next_slot(&self, at: DateTime<Utc>) -> DateTime<Utc> {
        let local = at.with_timezone(&TIME_ZONE);
        let mut date = local.date_naive();
        let mut time = local.time();
        for _ in 0..30 {
            if let Some((open, close)) = self.window(date) {
                if time < open {
                    return local_instant(date, open);
                }
                if time < close {
                    return at;
                }
            }
            date = date.succ_opt().expect("date in range");
            time = NaiveTime::MIN;
        }
        unreachable!("a month without a single open contact window")
    }
}

/// The legal contact window of a day.
pub fn contact_window(date: NaiveDate) -> Option<(NaiveTime, NaiveTime)> {
    ContactHours::legal().window(date)
}

/// The first instant at or after `at` inside the legal contact hours.
pub fn next_send_slot(at: DateTime<Utc>) -> DateTime<Utc> {
    ContactHours::legal().next_slot(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    #[test]
    fn computes_easter_for_known_years() {
        assert_eq!(easter(2024), d(2024, 3, 31));
        assert_eq!(easter(2025), d(2025, 4, 20));
        assert_eq!(easter(2026), d(2026, 4, 5));
        assert_eq!(easter(2027), d(2027, 3, 28));
    }

    #[test]
    fn knows_moveable_holidays_of_2026() {
        assert!(is_national_holiday(d(2026, 2, 16))); // Carnaval Monday
        assert!(is_national_holiday(d(2026, 2, 17))); // Carnaval Tuesday
        assert!(is_national_holiday(d(2026, 4, 3))); // Sexta-feira Santa
        assert!(is_national_holiday(d(2026, 6, 4))); // Corpus Christi
        assert!(!is_national_holiday(d(2026, 2, 18))); // Ash Wednesday is a working day from noon
    }

    #[test]
    fn due_date_on_a_saturday_rolls_to_monday() {
        assert_eq!(effective_due_date(d(2026, 12, 5)), d(2026, 12, 7));
        assert_eq!(effective_due_date(d(2026, 12, 25)), d(2026, 12, 28));
        assert_eq!(effective_due_date(d(2026, 12, 10)), d(2026, 12, 10));
    }

    #[test]
    fn a_message_planned_at_night_moves_to_next_morning() {
        let late = local_instant(d(2026, 12, 9), NaiveTime::from_hms_opt(22, 30, 0).unwrap());
        assert_eq!(next_send_slot(late), local_instant(d(2026, 12, 10), NaiveTime::from_hms_opt(8, 0, 0).unwrap()));
    }

    #[test]
    fn a_message_planned_on_saturday_afternoon_waits_for_monday() {
        let sat = local_instant(d(2026, 12, 5), NaiveTime::from_hms_opt(15, 0, 0).unwrap());
        assert_eq!(next_send_slot(sat), local_instant(d(2026, 12, 7), NaiveTime::from_hms_opt(8, 0, 0).unwrap()));
    }

    #[test]
    fn a_message_inside_the_window_is_not_moved() {
        let ok = local_instant(d(2026, 12, 9), NaiveTime::from_hms_opt(9, 0, 0).unwrap());
        assert_eq!(next_send_slot(ok), ok);
    }
}
