package health

import "testing"

func TestMatcher(t *testing.T) {
	tests := []struct {
		matcher string
		match   []int
		noMatch []int
	}{
		{"200", []int{200}, []int{199, 201, 204, 302, 500}},
		{"200,202", []int{200, 202}, []int{201, 203}},
		{"200-299", []int{200, 250, 299}, []int{199, 300}},
		{"200,300-399", []int{200, 300, 399}, []int{201, 299, 400}},
		{" 200 , 204 - 206 ", []int{200, 204, 205, 206}, []int{203, 207}},
		{"499", []int{499}, []int{498, 500}},
		{"200-499", []int{200, 404, 499}, []int{500, 503}},
		{"302,302", []int{302}, []int{301}},
	}
	for _, tt := range tests {
		t.Run(tt.matcher, func(t *testing.T) {
			m, err := ParseMatcher(tt.matcher)
			if err != nil {
				t.Fatalf("ParseMatcher(%q): %v", tt.matcher, err)
			}
			for _, code := range tt.match {
				if !m.Match(code) {
					t.Errorf("Match(%d) = false, want true", code)
				}
			}
			for _, code := range tt.noMatch {
				if m.Match(code) {
					t.Errorf("Match(%d) = true, want false", code)
				}
			}
		})
	}
}

func TestParseMatcherErrors(t *testing.T) {
	for _, s := range []string{
		"", " ", "abc", "200,", ",200", "200,,202", "2OO",
		"199", "500", "100-200", "200-500", "299-200", "200-", "-200",
		"200-250-299", "+200", "200.0", "0x0C8",
	} {
		if _, err := ParseMatcher(s); err == nil {
			t.Errorf("ParseMatcher(%q) = nil error, want an error", s)
		}
	}
}

func TestZeroMatcherMatchesNothing(t *testing.T) {
	var m Matcher
	if m.Match(200) {
		t.Error("zero Matcher matched 200")
	}
}
