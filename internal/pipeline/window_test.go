package pipeline

import (
	"strings"
	"testing"
	"time"
)

func TestParseWindowRefusesWithThePosition(t *testing.T) {
	for _, tc := range []struct {
		text, zone string
		want       string
	}{
		{"", "", "deploy window is empty"},
		{"Mon-Fry 09:00-17:00", "", `column 5: unknown day "Fry"`},
		{"Mon-Fri 9am-17:00", "", `column 9: time "9am"`},
		{"Mon-Fri 09:00-25:00", "", `column 15: time "25:00": hours are 00-23`},
		{"Mon-Fri 09:00", "", `column 9: "09:00" is not a time range`},
		{"Mon-Fri 09:00-17:00 extra", "", `column 21: unexpected "extra"`},
		{"Mon-Fri 09:00-17:00; Sat 10:00-1200", "", `column 32: time "1200"`},
		{"Mon-Fri 09:00-17:00;", "", "column 21: empty rule"},
		{"cron(0 9 * * 1-5 8h", "", "cron( has no closing )"},
		{"cron(0 9 * 1-5) 8h", "", "has 4 fields"},
		{"cron(0 25 * * 1-5) 8h", "", `column 8: hour "25": use 0-23`},
		{"cron(0 9 * * Mon-Fru) 8h", "", `column 18: day of week "Fru"`},
		{"cron(0 9 * * 5-1) 8h", "", `column 14: day of week range "5-1" goes backwards`},
		{"cron(*/0 9 * * *) 8h", "", `column 8: minute step "0"`},
		{"cron(0 9 * * 1-5)", "", "column 18: after cron(...) give how long"},
		{"cron(0 9 * * 1-5) 8d", "", `column 19: duration "8d"`},
		{"cron(0 9 * * 1-5) 200h", "", `duration "200h": use 1m to 168h`},
		{"Mon-Fri 09:00-17:00", "Europe/Berlinn", `time zone "Europe/Berlinn": not an IANA time zone`},
		{"Mon-Fri 09:00-17:00", "Local", `time zone "Local"`},
	} {
		_, err := ParseWindow(tc.text, tc.zone)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseWindow(%q, %q) = %v, want an error with %q", tc.text, tc.zone, err, tc.want)
		}
	}
}

func TestWindowStatus(t *testing.T) {
	at := func(zone, s string) time.Time {
		loc, err := time.LoadLocation(zone)
		if err != nil {
			t.Fatal(err)
		}
		v, err := time.ParseInLocation("2006-01-02 15:04", s, loc)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	utc := func(s string) time.Time { return at("UTC", s) }
	for _, tc := range []struct {
		name, window, zone string
		now                time.Time
		open               bool
		until              time.Time // close when open, next opening when not
	}{
		// 2026-12-04 is a Friday.
		{"inside office hours", "Mon-Fri 09:00-17:00", "UTC", utc("2026-12-04 10:00"), true, utc("2026-12-04 17:00")},
		{"at the opening minute", "Mon-Fri 09:00-17:00", "UTC", utc("2026-12-04 09:00"), true, utc("2026-12-04 17:00")},
		{"at the close it is closed", "Mon-Fri 09:00-17:00", "UTC", utc("2026-12-04 17:00"), false, utc("2026-12-07 09:00")},
		{"weekend waits for Monday", "Mon-Fri 09:00-17:00", "UTC", utc("2026-12-05 12:00"), false, utc("2026-12-07 09:00")},
		{"before the opening", "Mon-Fri 09:00-17:00", "UTC", utc("2026-12-04 08:59"), false, utc("2026-12-04 09:00")},
		{"every day without days", "09:00-17:00", "UTC", utc("2026-12-05 08:00"), false, utc("2026-12-05 09:00")},
		{"full day names and lists", "Saturday,Sun 10:00-12:00", "UTC", utc("2026-12-04 12:00"), false, utc("2026-12-05 10:00")},
		{"a range over the weekend", "Fri-Mon 10:00-12:00", "UTC", utc("2026-12-06 11:00"), true, utc("2026-12-06 12:00")},
		{"overnight, after midnight", "Fri 22:00-02:00", "UTC", utc("2026-12-05 01:30"), true, utc("2026-12-05 02:00")},
		{"overnight, not on the next night", "Fri 22:00-02:00", "UTC", utc("2026-12-06 01:30"), false, utc("2026-12-11 22:00")},
		{"until midnight", "daily 18:00-24:00", "UTC", utc("2026-12-04 23:59"), true, utc("2026-12-05 00:00")},
		{"second rule", "Mon-Fri 09:00-17:00; Sat 10:00-12:00", "UTC", utc("2026-12-05 11:00"), true, utc("2026-12-05 12:00")},
		{"the nearer of two rules", "Mon 09:00-10:00; Sun 20:00-21:00", "UTC", utc("2026-12-05 11:00"), false, utc("2026-12-06 20:00")},
		// Time zones: 09:00 in Tokyo is 00:00 UTC.
		{"Tokyo morning is UTC midnight", "Mon-Fri 09:00-17:00", "Asia/Tokyo", utc("2026-12-04 00:30"), true, utc("2026-12-04 08:00")},
		{"Tokyo's Friday ended", "Mon-Fri 09:00-17:00", "Asia/Tokyo", utc("2026-12-04 10:00"), false, utc("2026-12-07 00:00")},
		{"New York in winter", "Mon-Fri 09:00-17:00", "America/New_York", utc("2026-12-04 13:59"), false, utc("2026-12-04 14:00")},
		{"Kolkata's half hour", "daily 09:00-09:30", "Asia/Kolkata", utc("2026-12-04 03:45"), true, utc("2026-12-04 04:00")},
		// DST: Europe/Berlin springs forward 2026-03-29 02:00 -> 03:00
		// and falls back 2026-10-25 03:00 -> 02:00.
		{"wall clock kept on spring-forward day", "daily 09:00-17:00", "Europe/Berlin", at("Europe/Berlin", "2026-03-29 08:30"), false, at("Europe/Berlin", "2026-03-29 09:00")},
		{"spring-forward day closes at 17:00 CEST", "daily 09:00-17:00", "Europe/Berlin", at("Europe/Berlin", "2026-03-29 16:30"), true, utc("2026-03-29 15:00")},
		{"a skipped start opens at 03:00", "Sun 02:30-04:00", "Europe/Berlin", utc("2026-03-29 00:30"), false, utc("2026-03-29 01:00")},
		{"inside the opening after the gap", "Sun 02:30-04:00", "Europe/Berlin", utc("2026-03-29 01:30"), true, utc("2026-03-29 02:00")},
		{"fall-back: the first 02:30", "Sun 02:30-02:45", "Europe/Berlin", utc("2026-10-25 00:00"), false, utc("2026-10-25 00:30")},
		{"fall-back night is an hour longer", "Sat 22:00-06:00", "Europe/Berlin", utc("2026-10-25 04:30"), true, utc("2026-10-25 05:00")},
		{"fall-back, after the close", "Sat 22:00-06:00", "Europe/Berlin", utc("2026-10-25 05:00"), false, utc("2026-10-31 21:00")},
		{"US spring forward", "Sun 01:00-03:30", "America/New_York", utc("2026-03-08 07:10"), true, utc("2026-03-08 07:30")},
		// cron rules
		{"cron weekdays 9-17", "cron(0 9 * * 1-5) 8h", "UTC", utc("2026-12-04 16:59"), true, utc("2026-12-04 17:00")},
		{"cron on the weekend", "cron(0 9 * * MON-FRI) 8h", "UTC", utc("2026-12-05 09:00"), false, utc("2026-12-07 09:00")},
		{"cron every 15 minutes for 5", "cron(*/15 * * * *) 5m", "UTC", utc("2026-12-04 10:07"), false, utc("2026-12-04 10:15")},
		{"cron day of month or day of week", "cron(0 12 1 * sun) 1h", "UTC", utc("2026-12-02 00:00"), false, utc("2026-12-06 12:00")},
		{"cron 7 is Sunday", "cron(0 12 * * 7) 1h", "UTC", utc("2026-12-06 12:30"), true, utc("2026-12-06 13:00")},
		{"cron month names", "cron(0 0 1 jan *) 24h", "UTC", utc("2026-12-04 00:00"), false, utc("2027-01-01 00:00")},
		{"cron over the DST change keeps its duration", "cron(0 0 * * *) 12h", "Europe/Berlin", utc("2026-03-29 10:30"), true, utc("2026-03-29 11:00")},
		{"cron leap day", "cron(0 0 29 2 *) 1h", "UTC", utc("2026-12-04 00:00"), false, utc("2028-02-29 00:00")},
		{"cron that never opens", "cron(0 0 30 2 *) 1h", "UTC", utc("2026-12-04 00:00"), false, time.Time{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, err := ParseWindow(tc.window, tc.zone)
			if err != nil {
				t.Fatal(err)
			}
			open, until := w.Status(tc.now)
			if open != tc.open || !until.Equal(tc.until) {
				t.Errorf("Status(%s) of %s = %v, %s; want %v, %s", tc.now.UTC(), w, open, until.UTC(), tc.open, tc.until.UTC())
			}
			if w.Contains(tc.now) != tc.open {
				t.Errorf("Contains(%s) = %v, want %v", tc.now.UTC(), !tc.open, tc.open)
			}
		})
	}
}
