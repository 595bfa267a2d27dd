package build

import "testing"

func TestMatch(t *testing.T) {
	tests := []struct {
		pattern, name string
		want          bool
	}{
		{"**/*", "a", true},
		{"**/*", "a/b/c.js", true},
		{"*", "a", true},
		{"*", "a/b", false},
		{"app.js", "app.js", true},
		{"./app.js", "app.js", true},
		{"app.js", "src/app.js", false},
		{"scripts/**/*", "scripts/smoke.sh", true},
		{"scripts/**/*", "scripts/a/b/c.sh", true},
		{"scripts/**/*", "scripts", false},
		{"scripts/**/*", "other/smoke.sh", false},
		{"**/*.map", "dist/a/b.js.map", true},
		{"**/*.map", "b.js.map", true},
		{"**/*.map", "b.js", false},
		{"dist/**", "dist/x", true},
		{"a/**/b/*.txt", "a/b/c.txt", true},
		{"a/**/b/*.txt", "a/x/y/b/c.txt", true},
		{"a/**/b/*.txt", "a/x/y/c/c.txt", false},
		{"**/**/*", "a/b", true},
		{"[", "[", false}, // a bad pattern matches nothing
		{"?.js", "a.js", true},
	}
	for _, tt := range tests {
		if got := match(tt.pattern, tt.name); got != tt.want {
			t.Errorf("match(%q, %q) = %v, want %v", tt.pattern, tt.name, got, tt.want)
		}
	}
}

func TestMatchesOrUnder(t *testing.T) {
	if !matchesOrUnder("dist", "dist/a/b.js") {
		t.Error("a directory pattern does not take the files under it")
	}
	if matchesOrUnder("dist", "distx/a") {
		t.Error("dist matched distx/a")
	}
}

func TestSplitGlob(t *testing.T) {
	tests := []struct{ in, root, rest string }{
		{"/var/lib/docker/**/*", "/var/lib/docker", "**/*"},
		{"/home/u/.npm", "/home/u/.npm", ""},
		{"node_modules/**/*", "node_modules", "**/*"},
		{"**/*", "", "**/*"},
		{"/*", "/", "*"},
		{"build/*.jar", "build", "*.jar"},
	}
	for _, tt := range tests {
		if root, rest := splitGlob(tt.in); root != tt.root || rest != tt.rest {
			t.Errorf("splitGlob(%q) = %q, %q, want %q, %q", tt.in, root, rest, tt.root, tt.rest)
		}
	}
}
