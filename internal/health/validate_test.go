package health

import (
	"errors"
	"testing"
	"time"
)

func TestWithDefaults(t *testing.T) {
	tests := []struct {
		name string
		in   Config
		want Config
	}{
		{
			name: "zero",
			in:   Config{},
			want: Config{Path: "/", Interval: 30 * time.Second, Timeout: 6 * time.Second, HealthyThreshold: 5, UnhealthyThreshold: 2, Matcher: "200"},
		},
		{
			name: "short interval halves the default timeout",
			in:   Config{Interval: 5 * time.Second},
			want: Config{Path: "/", Interval: 5 * time.Second, Timeout: 2500 * time.Millisecond, HealthyThreshold: 5, UnhealthyThreshold: 2, Matcher: "200"},
		},
		{
			name: "minimum interval",
			in:   Config{Interval: 500 * time.Millisecond},
			want: Config{Path: "/", Interval: 500 * time.Millisecond, Timeout: 250 * time.Millisecond, HealthyThreshold: 5, UnhealthyThreshold: 2, Matcher: "200"},
		},
		{
			name: "interval of exactly twice the default timeout",
			in:   Config{Interval: 12 * time.Second},
			want: Config{Path: "/", Interval: 12 * time.Second, Timeout: 6 * time.Second, HealthyThreshold: 5, UnhealthyThreshold: 2, Matcher: "200"},
		},
		{
			name: "set fields are kept",
			in:   Config{Path: "/up", Port: 9000, Host: "app.test", Interval: 10 * time.Second, Timeout: 9 * time.Second, HealthyThreshold: 3, UnhealthyThreshold: 4, Matcher: "200-299", Disabled: true},
			want: Config{Path: "/up", Port: 9000, Host: "app.test", Interval: 10 * time.Second, Timeout: 9 * time.Second, HealthyThreshold: 3, UnhealthyThreshold: 4, Matcher: "200-299", Disabled: true},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.in.WithDefaults()
			if got != tt.want {
				t.Errorf("WithDefaults() = %+v, want %+v", got, tt.want)
			}
			if err := got.Validate(); err != nil {
				t.Errorf("defaults are invalid: %v", err)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	// valid is a complete config in the middle of every range; each case
	// changes one thing.
	valid := Config{Path: "/up", Interval: 10 * time.Second, Timeout: 5 * time.Second, HealthyThreshold: 3, UnhealthyThreshold: 3, Matcher: "200"}
	tests := []struct {
		name    string
		change  func(*Config)
		wantErr string // "" for valid
	}{
		{"valid", func(c *Config) {}, ""},
		{"zero config uses defaults", func(c *Config) { *c = Config{} }, ""},
		{"disabled is still validated", func(c *Config) { c.Disabled = true; c.HealthyThreshold = 1 }, "healthy_threshold: 1 is out of range; valid: 2-10"},

		{"interval below minimum", func(c *Config) { c.Interval = 499 * time.Millisecond; c.Timeout = 0 }, "interval: 499ms is out of range; valid: 500ms-300s"},
		{"interval minimum", func(c *Config) { c.Interval = 500 * time.Millisecond; c.Timeout = 0 }, ""},
		{"interval maximum", func(c *Config) { c.Interval = 300 * time.Second }, ""},
		{"interval above maximum", func(c *Config) { c.Interval = 301 * time.Second }, "interval: 301s is out of range; valid: 500ms-300s"},
		{"interval negative", func(c *Config) { c.Interval = -time.Second }, "interval: -1s is out of range; valid: 500ms-300s"},

		{"timeout below minimum", func(c *Config) { c.Timeout = 99 * time.Millisecond }, "timeout: 99ms is out of range; valid: 100ms-120s"},
		{"timeout minimum", func(c *Config) { c.Timeout = 100 * time.Millisecond }, ""},
		{"timeout maximum", func(c *Config) { c.Interval = 300 * time.Second; c.Timeout = 120 * time.Second }, ""},
		{"timeout above maximum", func(c *Config) { c.Interval = 300 * time.Second; c.Timeout = 121 * time.Second }, "timeout: 121s is out of range; valid: 100ms-120s"},
		{"timeout just below interval", func(c *Config) { c.Timeout = c.Interval - time.Millisecond }, ""},
		{"timeout equal to interval", func(c *Config) { c.Timeout = 10 * time.Second }, "timeout: 10s must be less than interval (10s)"},
		{"timeout above interval", func(c *Config) { c.Interval = 5 * time.Second; c.Timeout = 6 * time.Second }, "timeout: 6s must be less than interval (5s)"},
		{"default timeout with 6s interval", func(c *Config) { c.Interval = 6 * time.Second; c.Timeout = 0 }, ""},

		{"healthy_threshold below", func(c *Config) { c.HealthyThreshold = 1 }, "healthy_threshold: 1 is out of range; valid: 2-10"},
		{"healthy_threshold minimum", func(c *Config) { c.HealthyThreshold = 2 }, ""},
		{"healthy_threshold maximum", func(c *Config) { c.HealthyThreshold = 10 }, ""},
		{"healthy_threshold above", func(c *Config) { c.HealthyThreshold = 11 }, "healthy_threshold: 11 is out of range; valid: 2-10"},
		{"unhealthy_threshold below", func(c *Config) { c.UnhealthyThreshold = 1 }, "unhealthy_threshold: 1 is out of range; valid: 2-10"},
		{"unhealthy_threshold minimum", func(c *Config) { c.UnhealthyThreshold = 2 }, ""},
		{"unhealthy_threshold maximum", func(c *Config) { c.UnhealthyThreshold = 10 }, ""},
		{"unhealthy_threshold above", func(c *Config) { c.UnhealthyThreshold = 11 }, "unhealthy_threshold: 11 is out of range; valid: 2-10"},
		{"unhealthy_threshold negative", func(c *Config) { c.UnhealthyThreshold = -2 }, "unhealthy_threshold: -2 is out of range; valid: 2-10"},

		{"port negative", func(c *Config) { c.Port = -1 }, "port: -1 is out of range; valid: 1-65535, or 0 for the target's own port"},
		{"port minimum", func(c *Config) { c.Port = 1 }, ""},
		{"port maximum", func(c *Config) { c.Port = 65535 }, ""},
		{"port above maximum", func(c *Config) { c.Port = 65536 }, "port: 65536 is out of range; valid: 1-65535, or 0 for the target's own port"},

		{"path with query", func(c *Config) { c.Path = "/health?full=1" }, ""},
		{"path without slash", func(c *Config) { c.Path = "up" }, `path: "up" is invalid; valid: a path starting with "/", e.g. "/up"`},
		{"path with space", func(c *Config) { c.Path = "/a b" }, `path: "/a b" is not a valid request path`},
		{"host", func(c *Config) { c.Host = "app.example.com:8080" }, ""},
		{"host with space", func(c *Config) { c.Host = "app example" }, `host: "app example" is not a valid Host header`},

		{"matcher list and range", func(c *Config) { c.Matcher = "200,300-399" }, ""},
		{"matcher text", func(c *Config) { c.Matcher = "abc" }, `matcher: "abc" is invalid; valid: a code 200-499, a list "200,202" or a range "200-299"`},
		{"matcher 5xx", func(c *Config) { c.Matcher = "200-500" }, `matcher: "200-500" is invalid; valid: a code 200-499, a list "200,202" or a range "200-299"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := valid
			tt.change(&c)
			err := c.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want %q", tt.wantErr)
			}
			if err.Error() != tt.wantErr {
				t.Errorf("Validate() = %q, want %q", err, tt.wantErr)
			}
			var fe *FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("Validate() = %T, want a *FieldError inside", err)
			}
		})
	}
}

func TestValidateReportsEveryField(t *testing.T) {
	c := Config{Interval: time.Hour, HealthyThreshold: 1, Matcher: "600"}
	err := c.Validate()
	var fields []string
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var fe *FieldError
		if !errors.As(e, &fe) {
			t.Fatalf("error %v is not a *FieldError", e)
		}
		fields = append(fields, fe.Field)
	}
	want := []string{"interval", "healthy_threshold", "matcher"}
	if len(fields) != len(want) {
		t.Fatalf("fields = %v, want %v", fields, want)
	}
	for i := range want {
		if fields[i] != want[i] {
			t.Fatalf("fields = %v, want %v", fields, want)
		}
	}
}
