package web

import (
	"strings"
	"testing"
	"time"

	"github.com/cutover/cutover/internal/store"
)

func TestTrafficChart(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	prod := func(s, blue, green int) store.WeightChange {
		return store.WeightChange{Listener: "production", At: at(s), Weights: map[string]int{"blue": blue, "green": green}}
	}
	tests := []struct {
		name      string
		history   []store.WeightChange
		newGroup  string
		first     bool
		wantNew   int
		wantOld   int
		wantPts   string
		wantLine0 string // the new revision's line starts here
	}{
		{"before any shift", nil, "green", false, 0, 100, "", "44,192"},
		{"linear, half way", []store.WeightChange{prod(2, 75, 25), prod(4, 50, 50)}, "green", false, 50, 50, "2.0:25 4.0:50", "44,192"},
		{"the new revision in blue", []store.WeightChange{prod(2, 25, 75)}, "blue", false, 25, 75, "2.0:25", "44,192"},
		{"test listener ignored", []store.WeightChange{{Listener: "test", At: at(1), Weights: map[string]int{"green": 1}}}, "green", false, 0, 100, "", "44,192"},
		{"first deployment, all at once", []store.WeightChange{{Listener: "production", At: at(3), Weights: map[string]int{"green": 100}}}, "green", true, 100, 0, "3.0:100", "44,192"},
		{"rolled back", []store.WeightChange{prod(2, 75, 25), prod(5, 100, 0)}, "green", false, 0, 100, "2.0:25 5.0:0", "44,192"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newTrafficChart(t0, at(10), tt.history, tt.newGroup, tt.first)
			if c.NewShare != tt.wantNew || c.OldShare != tt.wantOld {
				t.Errorf("shares new %d old %d, want %d and %d", c.NewShare, c.OldShare, tt.wantNew, tt.wantOld)
			}
			if c.Points != tt.wantPts {
				t.Errorf("points %q, want %q", c.Points, tt.wantPts)
			}
			if got := c.NewLine[:len(tt.wantLine0)]; got != tt.wantLine0 {
				t.Errorf("the line starts at %s, want %s (0%% at the left edge)", got, tt.wantLine0)
			}
			if last := c.NewLine[strings.LastIndex(c.NewLine, " ")+1:]; !strings.HasPrefix(last, "790,") {
				t.Errorf("the line ends at %s, want the right edge x=790: %s", last, c.NewLine)
			}
		})
	}
}

func TestSplitRunes(t *testing.T) {
	euro := "€" // 3 bytes
	tests := []struct {
		in, whole, rest string
	}{
		{"abc", "abc", ""},
		{"ab" + euro, "ab" + euro, ""},
		{"ab" + euro[:1], "ab", euro[:1]},
		{"ab" + euro[:2], "ab", euro[:2]},
		{"", "", ""},
	}
	for _, tt := range tests {
		whole, rest := splitRunes([]byte(tt.in))
		if string(whole) != tt.whole || string(rest) != tt.rest {
			t.Errorf("splitRunes(%q) = %q, %q; want %q, %q", tt.in, whole, rest, tt.whole, tt.rest)
		}
	}
}

func TestTook(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		start, end time.Time
		want       string
	}{
		{t0, t0.Add(1500 * time.Millisecond), "1.5s"},
		{t0, t0.Add(250 * time.Millisecond), "250ms"},
		{t0, t0.Add(125 * time.Second), "2m05s"},
		{time.Time{}, t0, ""}, // skipped: never started
		{t0, time.Time{}, ""}, // running
	}
	for _, tt := range tests {
		if got := took(tt.start, tt.end); got != tt.want {
			t.Errorf("took(%v, %v) = %q, want %q", tt.start, tt.end, got, tt.want)
		}
	}
}
