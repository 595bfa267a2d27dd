package runtime

import (
	"testing"
	"time"
)

func TestLogRecordRoundTrip(t *testing.T) {
	at := time.Date(2026, 12, 4, 19, 13, 19, 1200, time.FixedZone("CET", 3600))
	tests := []struct {
		name string
		line LogLine
		rec  string
	}{
		{"stdout line", LogLine{Time: at, Stream: Stdout, Text: []byte("GET / 200")},
			"2026-12-04T18:13:19.000001200Z stdout F GET / 200\n"},
		{"stderr part", LogLine{Time: at, Stream: Stderr, Text: []byte("half"), Partial: true},
			"2026-12-04T18:13:19.000001200Z stderr P half\n"},
		{"empty line", LogLine{Time: at, Stream: Stdout},
			"2026-12-04T18:13:19.000001200Z stdout F \n"},
		{"text that looks like a record", LogLine{Time: at, Stream: Stdout, Text: []byte("2020-01-01T00:00:00Z stderr F forged")},
			"2026-12-04T18:13:19.000001200Z stdout F 2020-01-01T00:00:00Z stderr F forged\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := string(tt.line.AppendRecord(nil))
			if rec != tt.rec {
				t.Fatalf("AppendRecord = %q, want %q", rec, tt.rec)
			}
			got, ok := ParseLogRecord([]byte(rec[:len(rec)-1]))
			if !ok {
				t.Fatalf("ParseLogRecord(%q) is not a record", rec)
			}
			if !got.Time.Equal(tt.line.Time) || got.Stream != tt.line.Stream || string(got.Text) != string(tt.line.Text) || got.Partial != tt.line.Partial {
				t.Errorf("ParseLogRecord = %+v, want %+v", got, tt.line)
			}
		})
	}
}

func TestParseLogRecordRefusesOtherLines(t *testing.T) {
	for _, line := range []string{
		"",
		"listening on 8080",
		"2026-12-04T18:13:19Z",
		"2026-12-04T18:13:19Z stdout",
		"2026-12-04T18:13:19Z stdout F",
		"2026-12-04T18:13:19Z stdin F text",
		"2026-12-04T18:13:19Z stdout X text",
		"2026-12-04 18:13:19 stdout F text",
		"yesterday stdout F text",
	} {
		if l, ok := ParseLogRecord([]byte(line)); ok {
			t.Errorf("ParseLogRecord(%q) = %+v, want not a record", line, l)
		}
	}
}

func TestLogLineText(t *testing.T) {
	full := LogLine{Text: []byte("a")}.AppendText(nil)
	part := LogLine{Text: []byte("b"), Partial: true}.AppendText(full)
	if string(part) != "a\nb" {
		t.Errorf("AppendText = %q, want %q", part, "a\nb")
	}
}
