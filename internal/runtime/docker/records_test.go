package docker

import (
	"bytes"
	"encoding/binary"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/api/pkg/stdcopy"
)

func TestDemuxRecords(t *testing.T) {
	type msg struct {
		stderr bool
		text   string
	}
	tests := []struct {
		name string
		msgs []msg
		want string
	}{
		{"streams", []msg{{false, "2026-12-04T19:13:19.5Z hello\n"}, {true, "2026-12-04T19:13:20Z oops\n"}},
			"2026-12-04T19:13:19.500000000Z stdout F hello\n2026-12-04T19:13:20.000000000Z stderr F oops\n"},
		{"a long line in parts", []msg{{false, "2026-12-04T19:13:19Z aaa"}, {false, "2026-12-04T19:13:19.1Z bbb\n"}},
			"2026-12-04T19:13:19.000000000Z stdout P aaa\n2026-12-04T19:13:19.100000000Z stdout F bbb\n"},
		{"text with spaces", []msg{{false, "2026-12-04T19:13:19Z GET / 200\n"}},
			"2026-12-04T19:13:19.000000000Z stdout F GET / 200\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var raw bytes.Buffer
			for _, m := range tt.msgs {
				// The Engine's frame: stream, three zero bytes, size.
				stream := byte(stdcopy.Stdout)
				if m.stderr {
					stream = byte(stdcopy.Stderr)
				}
				raw.Write([]byte{stream, 0, 0, 0})
				binary.Write(&raw, binary.BigEndian, uint32(len(m.text)))
				raw.WriteString(m.text)
			}
			rc := DemuxRecords(io.NopCloser(&raw))
			defer rc.Close()
			got, err := io.ReadAll(rc)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("records:\n%s\nwant:\n%s", got, tt.want)
			}
		})
	}
}

func TestLogSince(t *testing.T) {
	at := time.Date(2026, 12, 4, 19, 13, 19, 5000, time.UTC)
	if got, want := LogSince(at), "1796411599.000005000"; got != want {
		t.Errorf("LogSince = %q, want %q", got, want)
	}
	if got := LogSince(time.Time{}); got != "" {
		t.Errorf("LogSince(zero) = %q, want empty", got)
	}
	if !strings.Contains(LogSince(at.Add(time.Second)), ".") {
		t.Error("no fraction")
	}
}
