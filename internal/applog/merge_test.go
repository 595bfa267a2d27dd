package applog

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/cutover/cutover/internal/runtime"
)

var t0 = time.Date(2026, 12, 4, 19, 0, 0, 0, time.UTC)

func at(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }

func texts(lines []Line) string {
	var b []string
	for _, l := range lines {
		b = append(b, l.Task+":"+l.Text)
	}
	return strings.Join(b, " ")
}

func TestMerge(t *testing.T) {
	l := func(task string, ms int, text string) Line { return Line{Time: at(ms), Task: task, Text: text} }
	tests := []struct {
		name    string
		streams [][]Line
		want    string
	}{
		{"none", nil, ""},
		{"one stream", [][]Line{{l("a", 1, "1"), l("a", 2, "2")}}, "a:1 a:2"},
		{"interleaved", [][]Line{
			{l("a", 1, "1"), l("a", 4, "4"), l("a", 7, "7")},
			{l("b", 2, "2"), l("b", 5, "5")},
			{l("c", 3, "3"), l("c", 6, "6"), l("c", 8, "8")},
		}, "a:1 b:2 c:3 a:4 b:5 c:6 a:7 c:8"},
		{"empty streams", [][]Line{nil, {l("b", 1, "1")}, {}}, "b:1"},
		{"same time keeps stream order", [][]Line{{l("a", 1, "x"), l("a", 1, "y")}, {l("b", 1, "z")}}, "a:x a:y b:z"},
		{"unknown times first", [][]Line{{l("a", 5, "new")}, {{Task: "old", Text: "untimed"}}}, "old:untimed a:new"},
		{"one stream ahead of the others", [][]Line{{l("a", 10, "10"), l("a", 11, "11")}, {l("b", 1, "1"), l("b", 2, "2")}}, "b:1 b:2 a:10 a:11"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := texts(Merge(tt.streams)); got != tt.want {
				t.Errorf("Merge = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestReadRecords(t *testing.T) {
	rec := func(ms int, stream, text string, partial bool) string {
		return string(runtime.LogLine{Time: at(ms), Stream: stream, Text: []byte(text), Partial: partial}.AppendRecord(nil))
	}
	tests := []struct {
		name  string
		input string
		want  []Line
	}{
		{"records", rec(1, "stdout", "hello", false) + rec(2, "stderr", "oops", false), []Line{
			{Time: at(1), Task: "t", Stream: "stdout", Text: "hello"},
			{Time: at(2), Task: "t", Stream: "stderr", Text: "oops"}}},
		{"partials joined per stream", rec(1, "stdout", "he", true) + rec(2, "stderr", "err", false) + rec(3, "stdout", "llo", false), []Line{
			{Time: at(2), Task: "t", Stream: "stderr", Text: "err"},
			{Time: at(1), Task: "t", Stream: "stdout", Text: "hello"}}},
		{"a partial at the end", rec(1, "stdout", "prompt> ", true), []Line{
			{Time: at(1), Task: "t", Stream: "stdout", Text: "prompt> "}}},
		{"not records", "plain\n", []Line{{Task: "t", Stream: "stdout", Text: "plain"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []Line
			err := ReadRecords(strings.NewReader(tt.input), "t", func(l Line) error {
				got = append(got, l)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("lines %+v, want %+v", got, tt.want)
			}
			for i := range got {
				if !got[i].Time.Equal(tt.want[i].Time) || got[i].Task != tt.want[i].Task || got[i].Stream != tt.want[i].Stream || got[i].Text != tt.want[i].Text {
					t.Errorf("line %d = %+v, want %+v", i, got[i], tt.want[i])
				}
			}
		})
	}
}

func TestReorder(t *testing.T) {
	const window = 500 * time.Millisecond
	type add struct {
		task          string
		written, came int // ms
	}
	tests := []struct {
		name string
		adds []add
		now  int // ms
		want string
		left int
	}{
		{"nothing due yet", []add{{"a", 100, 150}}, 400, "", 1},
		{"due in time order, not arrival order", []add{{"a", 30, 130}, {"b", 10, 200}, {"c", 20, 110}}, 600, "b c a", 0},
		{"only those due", []add{{"a", 10, 20}, {"b", 300, 310}}, 600, "a", 1},
		{"a clock ahead is released after the window", []add{{"a", 5000, 10}}, 600, "a", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var o reorder
			for _, a := range tt.adds {
				o.add(Line{Time: at(a.written), Task: a.task}, at(a.came))
			}
			var names []string
			for _, l := range o.release(at(tt.now), window) {
				names = append(names, l.Task)
			}
			if got := strings.Join(names, " "); got != tt.want || len(o.held) != tt.left {
				t.Errorf("release = %q with %d held, want %q with %d", got, len(o.held), tt.want, tt.left)
			}
		})
	}
}

func TestParseSince(t *testing.T) {
	now := at(0)
	tests := []struct {
		in   string
		want time.Time
		bad  bool
	}{
		{in: "10m", want: now.Add(-10 * time.Minute)},
		{in: "1h30m", want: now.Add(-90 * time.Minute)},
		{in: "2026-12-04T18:00:00Z", want: time.Date(2026, 12, 4, 18, 0, 0, 0, time.UTC)},
		{in: "0s", bad: true},
		{in: "-5m", bad: true},
		{in: "10", bad: true},
		{in: "yesterday", bad: true},
		{in: "", bad: true},
	}
	for _, tt := range tests {
		got, err := ParseSince(tt.in, now)
		if tt.bad {
			if !errors.Is(err, ErrBadRequest) {
				t.Errorf("ParseSince(%q) = %v, %v; want ErrBadRequest", tt.in, got, err)
			}
			continue
		}
		if err != nil || !got.Equal(tt.want) {
			t.Errorf("ParseSince(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}
