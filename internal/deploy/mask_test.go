package deploy

import (
	"strings"
	"testing"
)

func TestMaskerMasksSecretsAcrossWrites(t *testing.T) {
	tests := []struct {
		name    string
		secrets []string
		writes  []string
		want    string
	}{
		{"none", nil, []string{"a=hunter22\n"}, "a=hunter22\n"},
		{"one write", []string{"hunter22"}, []string{"a=hunter22 b=hunter22\n"}, "a=******** b=********\n"},
		{"split", []string{"hunter22"}, []string{"a=hun", "ter", "22\n"}, "a=********\n"},
		{"a prefix that is not the secret", []string{"hunter22"}, []string{"a=hunt", "ing\n"}, "a=hunting\n"},
		{"held to the end", []string{"hunter22"}, []string{"a=hunte"}, "a=hunte"},
		{"longest first", []string{"abcd", "abcdefgh"}, []string{"abcdefgh abcd\n"}, "******** ********\n"},
		{"too short to mask", []string{"1"}, []string{"101\n"}, "101\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out strings.Builder
			m := newMasker(&out, tt.secrets)
			for _, w := range tt.writes {
				if n, err := m.Write([]byte(w)); n != len(w) || err != nil {
					t.Fatalf("Write(%q) = %d, %v", w, n, err)
				}
			}
			m.Close()
			if out.String() != tt.want {
				t.Errorf("got %q; want %q", out.String(), tt.want)
			}
		})
	}
}
