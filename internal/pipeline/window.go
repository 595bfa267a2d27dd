package pipeline

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// A Window is a deploy window (CodePipeline's DeploymentWindow rule): the
// times an execution may enter the Deploy stage, in one time zone. It is
// one or more rules separated by ";", each either
//
//	[DAYS] HH:MM-HH:MM          e.g. "Mon-Fri 09:00-17:00", "Sat,Sun 10:00-12:00", "22:00-02:00"
//	cron(M H DOM MON DOW) DUR   e.g. "cron(0 9 * * 1-5) 8h"
//
// DAYS is a list of days and ranges (Mon..Sun, "daily" or "*" for every
// day; default every day). An end at or before the start ends the next
// day; 24:00 is the end of the day. The wall clock rules: on a day the
// clocks change, "09:00-17:00" still opens at 09:00 and closes at 17:00
// local time, and a start the clocks skip (02:30 on a spring-forward
// night) opens when the skipped hour ends. A cron rule opens at every
// minute its five fields match (standard cron: numbers, names, *, a-b,
// /step, lists; day of month and day of week both restricted means
// either) and stays open DUR (at most 7 days).
type Window struct {
	text  string
	loc   *time.Location
	rules []windowRule
}

// windowRule is one rule of a Window: the days it opens on, the minutes
// of those days it opens at, and when each opening closes.
type windowRule struct {
	months           [13]bool
	doms             [32]bool
	dows             [7]bool
	domStar, dowStar bool
	hours            [24]bool
	minutes          [60]bool
	// wallEnd: each opening closes at endMin minutes after midnight of
	// its day (the next day's when endNextDay); else after dur.
	wallEnd    bool
	endMin     int
	endNextDay bool
	dur        time.Duration
}

// maxWindowOpen bounds one opening; it also bounds how far back
// Contains looks.
const maxWindowOpen = 7 * 24 * time.Hour

// ParseWindow parses a deploy window in the IANA time zone zone (""
// means UTC). Errors name the column of the text they are about.
func ParseWindow(text, zone string) (*Window, error) {
	loc, err := loadZone(zone)
	if err != nil {
		return nil, err
	}
	w := &Window{text: text, loc: loc}
	if strings.TrimSpace(text) == "" {
		return nil, fmt.Errorf("deploy window is empty: use e.g. %q or %q", "Mon-Fri 09:00-17:00", "cron(0 9 * * 1-5) 8h")
	}
	col := 1
	for part := range strings.SplitSeq(text, ";") {
		r, err := parseWindowRule(part, col)
		if err != nil {
			return nil, fmt.Errorf("deploy window %q: %w", text, err)
		}
		w.rules = append(w.rules, r)
		col += len(part) + 1
	}
	return w, nil
}

func loadZone(zone string) (*time.Location, error) {
	if zone == "" || zone == "UTC" {
		return time.UTC, nil
	}
	if zone == "Local" {
		return nil, fmt.Errorf("time zone %q: name an IANA time zone such as Europe/Berlin", zone)
	}
	loc, err := time.LoadLocation(zone)
	if err != nil {
		return nil, fmt.Errorf("time zone %q: not an IANA time zone (e.g. Europe/Berlin, America/New_York, UTC)", zone)
	}
	return loc, nil
}

// String is the window as written, with its time zone.
func (w *Window) String() string { return w.text + " " + w.loc.String() }

// Location is the window's time zone.
func (w *Window) Location() *time.Location { return w.loc }

// token is a word of a rule and the column it starts at.
type token struct {
	s   string
	col int
}

func fields(s string, col int) []token {
	var ts []token
	start := -1
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == ' ' || s[i] == '\t' {
			if start >= 0 {
				ts = append(ts, token{s[start:i], col + start})
				start = -1
			}
			continue
		}
		if start < 0 {
			start = i
		}
	}
	return ts
}

func errAt(col int, format string, args ...any) error {
	return fmt.Errorf("column %d: "+format, append([]any{col}, args...)...)
}

func parseWindowRule(s string, col int) (windowRule, error) {
	trimmed := strings.TrimLeft(s, " \t")
	col += len(s) - len(trimmed)
	if rest, ok := strings.CutPrefix(trimmed, "cron("); ok {
		return parseCronRule(rest, col+len("cron("))
	}
	ts := fields(trimmed, col)
	switch len(ts) {
	case 0:
		return windowRule{}, errAt(col, "empty rule: use e.g. %q", "Mon-Fri 09:00-17:00")
	case 1:
		ts = append([]token{{"daily", ts[0].col}}, ts[0])
	case 2:
	default:
		return windowRule{}, errAt(ts[2].col, "unexpected %q: a rule is [DAYS] HH:MM-HH:MM; separate rules with ;", ts[2].s)
	}
	r := windowRule{domStar: true, wallEnd: true}
	for i := range r.months {
		r.months[i] = true
	}
	for i := range r.doms {
		r.doms[i] = true
	}
	if err := parseDays(ts[0], &r); err != nil {
		return windowRule{}, err
	}
	return r, parseTimeRange(ts[1], &r)
}

var dayNames = []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}

func parseDays(t token, r *windowRule) error {
	if t.s == "*" || strings.EqualFold(t.s, "daily") {
		r.dowStar = true
		for i := range r.dows {
			r.dows[i] = true
		}
		return nil
	}
	col := t.col
	for item := range strings.SplitSeq(t.s, ",") {
		lo, hi, isRange := strings.Cut(item, "-")
		a, err := dayNumber(lo, col)
		if err != nil {
			return err
		}
		b := a
		if isRange {
			if b, err = dayNumber(hi, col+len(lo)+1); err != nil {
				return err
			}
		}
		for d := a; ; d = (d + 1) % 7 { // Fri-Mon wraps over the weekend
			r.dows[d] = true
			if d == b {
				break
			}
		}
		col += len(item) + 1
	}
	return nil
}

func dayNumber(s string, col int) (int, error) {
	for i, name := range dayNames {
		if strings.EqualFold(s, name) || (len(s) > 3 && strings.HasPrefix(strings.ToLower(time.Weekday(i).String()), strings.ToLower(s))) {
			return i, nil
		}
	}
	return 0, errAt(col, "unknown day %q: use Mon, Tue, Wed, Thu, Fri, Sat, Sun, ranges such as Mon-Fri, lists such as Sat,Sun, or daily", s)
}

func parseTimeRange(t token, r *windowRule) error {
	from, to, ok := strings.Cut(t.s, "-")
	if !ok {
		return errAt(t.col, "%q is not a time range: use HH:MM-HH:MM, e.g. 09:00-17:00", t.s)
	}
	start, err := clockMinutes(from, t.col, false)
	if err != nil {
		return err
	}
	end, err := clockMinutes(to, t.col+len(from)+1, true)
	if err != nil {
		return err
	}
	r.hours[start/60], r.minutes[start%60] = true, true
	r.endMin, r.endNextDay = end, end <= start
	return nil
}

// clockMinutes parses HH:MM into minutes after midnight; 24:00 only as
// an end.
func clockMinutes(s string, col int, isEnd bool) (int, error) {
	hh, mm, ok := strings.Cut(s, ":")
	h, herr := strconv.Atoi(hh)
	m, merr := strconv.Atoi(mm)
	switch {
	case !ok || herr != nil || merr != nil || len(mm) != 2 || len(hh) == 0 || len(hh) > 2:
		return 0, errAt(col, "time %q: use HH:MM (24-hour clock), e.g. 09:00", s)
	case isEnd && h == 24 && m == 0:
		return 24 * 60, nil
	case h < 0 || h > 23 || m < 0 || m > 59:
		return 0, errAt(col, "time %q: hours are 00-23 (24:00 only as an end), minutes 00-59", s)
	}
	return h*60 + m, nil
}

var monthNames = []string{"", "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"}

// parseCronRule parses "M H DOM MON DOW) DURATION", s being what follows
// "cron(" at column col.
func parseCronRule(s string, col int) (windowRule, error) {
	expr, rest, ok := strings.Cut(s, ")")
	if !ok {
		return windowRule{}, errAt(col, "cron( has no closing ): use e.g. %q", "cron(0 9 * * 1-5) 8h")
	}
	fs := fields(expr, col)
	if len(fs) != 5 {
		return windowRule{}, errAt(col, "cron expression %q has %d fields: use five, minute hour day-of-month month day-of-week", expr, len(fs))
	}
	var r windowRule
	specs := []struct {
		set    []bool
		lo, hi int
		names  []string
		star   *bool
		what   string
	}{
		{r.minutes[:], 0, 59, nil, nil, "minute"},
		{r.hours[:], 0, 23, nil, nil, "hour"},
		{r.doms[:], 1, 31, nil, &r.domStar, "day of month"},
		{r.months[:], 1, 12, monthNames, nil, "month"},
		{nil, 0, 7, dayNames, &r.dowStar, "day of week"},
	}
	var dows [8]bool
	for i, spec := range specs {
		set := spec.set
		if set == nil {
			set = dows[:]
		}
		star, err := parseCronField(fs[i], set, spec.lo, spec.hi, spec.names, spec.what)
		if err != nil {
			return windowRule{}, err
		}
		if spec.star != nil {
			*spec.star = star
		}
	}
	for d := range 7 {
		r.dows[d] = dows[d] || (d == 0 && dows[7]) // 7 is Sunday too
	}
	durCol := col + len(expr) + 1
	dts := fields(rest, durCol)
	if len(dts) != 1 {
		return windowRule{}, errAt(durCol, "after cron(...) give how long each opening lasts, e.g. %q", "cron(0 9 * * 1-5) 8h")
	}
	d, err := time.ParseDuration(dts[0].s)
	if err != nil || d < time.Minute || d > maxWindowOpen {
		return windowRule{}, errAt(dts[0].col, "duration %q: use 1m to 168h, e.g. 8h or 90m", dts[0].s)
	}
	r.dur = d
	return r, nil
}

// parseCronField fills set (indexed by value) from one cron field and
// reports whether it was "*".
func parseCronField(t token, set []bool, lo, hi int, names []string, what string) (bool, error) {
	if t.s == "*" || t.s == "?" {
		for v := lo; v <= hi; v++ {
			set[v] = true
		}
		return true, nil
	}
	col := t.col
	for item := range strings.SplitSeq(t.s, ",") {
		if err := parseCronItem(item, col, set, lo, hi, names, what); err != nil {
			return false, err
		}
		col += len(item) + 1
	}
	return false, nil
}

func parseCronItem(item string, col int, set []bool, lo, hi int, names []string, what string) error {
	rng, stepText, hasStep := strings.Cut(item, "/")
	step := 1
	if hasStep {
		n, err := strconv.Atoi(stepText)
		if err != nil || n < 1 || n > hi {
			return errAt(col+len(rng)+1, "%s step %q: use a number from 1 to %d", what, stepText, hi)
		}
		step = n
	}
	a, b := lo, hi
	if rng != "*" {
		from, to, isRange := strings.Cut(rng, "-")
		var err error
		if a, err = cronValue(from, col, lo, hi, names, what); err != nil {
			return err
		}
		b = a
		if isRange {
			if b, err = cronValue(to, col+len(from)+1, lo, hi, names, what); err != nil {
				return err
			}
		} else if hasStep {
			b = hi // "5/15": from 5 on
		}
		if b < a {
			return errAt(col, "%s range %q goes backwards", what, rng)
		}
	}
	for v := a; v <= b; v += step {
		set[v] = true
	}
	return nil
}

func cronValue(s string, col, lo, hi int, names []string, what string) (int, error) {
	for i, name := range names {
		if name != "" && strings.EqualFold(s, name) {
			return i, nil
		}
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < lo || n > hi {
		return 0, errAt(col, "%s %q: use %d-%d", what, s, lo, hi)
	}
	return n, nil
}

// Contains reports whether t is inside one of the window's openings.
func (w *Window) Contains(t time.Time) bool {
	_, ok := w.openingAt(t)
	return ok
}

// Status says whether t is inside the window; if it is, until is when
// that opening closes, else until is when the window next opens (zero
// when it never does within five years, e.g. cron(0 9 30 2 *) 1h).
func (w *Window) Status(t time.Time) (open bool, until time.Time) {
	if closes, ok := w.openingAt(t); ok {
		return true, closes
	}
	return false, w.nextOpening(t)
}

// openingAt returns the close of the latest-closing opening that
// contains t.
func (w *Window) openingAt(t time.Time) (time.Time, bool) {
	var closes time.Time
	day := civilDay(t.In(w.loc)).AddDate(0, 0, -8)
	for range 9 {
		for _, r := range w.rules {
			r.openings(day, w.loc, func(open, close time.Time) bool {
				if !t.Before(open) && t.Before(close) && close.After(closes) {
					closes = close
				}
				return true
			})
		}
		day = day.AddDate(0, 0, 1)
	}
	return closes, !closes.IsZero()
}

func (w *Window) nextOpening(t time.Time) time.Time {
	day := civilDay(t.In(w.loc)).AddDate(0, 0, -1)
	for range 5*366 + 2 {
		var next time.Time
		for _, r := range w.rules {
			r.openings(day, w.loc, func(open, _ time.Time) bool {
				if open.After(t) {
					if next.IsZero() || open.Before(next) {
						next = open
					}
					return false
				}
				return true
			})
		}
		if !next.IsZero() {
			return next
		}
		day = day.AddDate(0, 0, 1)
	}
	return time.Time{}
}

// civilDay is t's calendar date as midnight UTC, for date arithmetic
// free of time zones.
func civilDay(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// openings calls fn with each opening that starts on day (a civilDay)
// in loc, in order, until fn returns false.
func (r *windowRule) openings(day time.Time, loc *time.Location, fn func(open, close time.Time) bool) {
	if !r.matchesDay(day) {
		return
	}
	for h := range 24 {
		if !r.hours[h] {
			continue
		}
		for m := range 60 {
			if !r.minutes[m] {
				continue
			}
			open := wallTime(day, h*60+m, loc)
			var close time.Time
			if r.wallEnd {
				endDay := day
				if r.endNextDay {
					endDay = day.AddDate(0, 0, 1)
				}
				close = wallTime(endDay, r.endMin, loc)
			} else {
				close = open.Add(r.dur)
			}
			if !fn(open, close) {
				return
			}
		}
	}
}

func (r *windowRule) matchesDay(day time.Time) bool {
	if !r.months[day.Month()] {
		return false
	}
	dom, dow := r.doms[day.Day()], r.dows[day.Weekday()]
	if !r.domStar && !r.dowStar {
		return dom || dow // cron: either restricted field matches
	}
	return dom && dow
}

// wallTime is the instant the clocks of loc show minute min of day
// (civilDay). A time the clocks skip (spring forward) is the instant
// they skip to; a time they show twice (fall back) is the first.
func wallTime(day time.Time, min int, loc *time.Location) time.Time {
	y, mo, d := day.Date()
	t := time.Date(y, mo, d, min/60, min%60, 0, 0, loc)
	if t.Hour()*60+t.Minute() == min%(24*60) {
		// Go may pick the second of two equal wall times: prefer the first.
		if earlier := t.Add(-time.Hour); earlier.Hour() == t.Hour() && earlier.Minute() == t.Minute() {
			return earlier
		}
		return t
	}
	start, _ := t.ZoneBounds() // in a gap: the transition that skipped it
	return start
}
