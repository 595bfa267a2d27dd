package pipeline

import "testing"

func TestGlob(t *testing.T) {
	tests := []struct {
		pattern string
		match   []string
		noMatch []string
	}{
		{"main", []string{"main"}, []string{"main2", "xmain", "feature/main", ""}},
		{"v*", []string{"v1", "v1.2.3", "v"}, []string{"release-v1", "v1/x"}},
		{"feature/*", []string{"feature/x", "feature/"}, []string{"feature/x/y", "feature"}},
		{"feature/**", []string{"feature/x", "feature/x/y/z"}, []string{"feature", "features/x"}},
		{"**", []string{"a", "a/b/c", ""}, nil},
		{"docs/**", []string{"docs/a.md", "docs/x/y.md"}, []string{"docs", "src/docs/a.md", "README.md"}},
		{"**/README.md", []string{"docs/README.md", "a/b/README.md"}, []string{"README.md", "docs/README.mdx"}},
		{"{README.md,**/README.md}", []string{"README.md", "docs/README.md"}, []string{"READMEmd"}},
		{"*.md", []string{"README.md", ".md"}, []string{"docs/a.md", "a.mdx"}},
		{"*.{js,ts}", []string{"a.js", "b.ts"}, []string{"a.jsx", "a.go", "x/a.js"}},
		{"release-v?", []string{"release-v1", "release-v9"}, []string{"release-v10", "release-v", "release-v/"}},
		{"v[0-9].*", []string{"v1.0", "v9.x"}, []string{"va.0", "v10.0"}},
		{"v[!0-9]*", []string{"vx", "vX1"}, []string{"v1", "v/"}},
		{"[!a]", []string{"b", "-"}, []string{"a", "/", "bb"}},
		{"[-a]", []string{"-", "a"}, []string{"b"}},
		{"[!-a]", []string{"b"}, []string{"-", "a", "/"}},
		{"[*?\\]", []string{"*", "?", "\\"}, []string{"a"}},
		{"[]a]", []string{"]", "a"}, []string{"b"}},
		{`a\*b`, []string{"a*b"}, []string{"axb"}},
		{"a.b+c(d)", []string{"a.b+c(d)"}, []string{"axb+c(d)", "a.bbc(d)"}},
		{"src/**/*.go", []string{"src/x/a.go", "src/x/y/a.go"}, []string{"src/a.go", "src/x/a.gox"}},
		{"src/**.go", []string{"src/a.go", "src/x/a.go"}, []string{"src/a.js"}},
	}
	for _, tt := range tests {
		g, err := CompileGlob(tt.pattern)
		if err != nil {
			t.Errorf("CompileGlob(%q): %v", tt.pattern, err)
			continue
		}
		for _, name := range tt.match {
			if !g.Match(name) {
				t.Errorf("%q does not match %q, want a match", tt.pattern, name)
			}
		}
		for _, name := range tt.noMatch {
			if g.Match(name) {
				t.Errorf("%q matches %q, want none", tt.pattern, name)
			}
		}
	}
}

func TestGlobRefusesBadPatterns(t *testing.T) {
	for _, pattern := range []string{"", "v[0-9", "{a,b", "a}", "{a,{b,c}}", `a\`, "[a/b]", "[z-a]", "[+-0]", "[é]"} {
		if g, err := CompileGlob(pattern); err == nil {
			t.Errorf("CompileGlob(%q) = %v, want an error", pattern, g)
		}
	}
}
