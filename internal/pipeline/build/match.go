package build

import (
	"path"
	"strings"
)

// match reports whether the slash-separated relative path name matches
// pattern. Segments match as in path.Match; a "**" segment matches any
// number of segments, including none, so "**/*" matches every file and
// "dist/**/*" every file under dist.
func match(pattern, name string) bool {
	return matchSegments(strings.Split(cleanPattern(pattern), "/"), strings.Split(name, "/"))
}

func matchSegments(pat, name []string) bool {
	for len(pat) > 0 {
		if pat[0] == "**" {
			for len(pat) > 1 && pat[1] == "**" {
				pat = pat[1:]
			}
			for i := 0; i <= len(name); i++ {
				if matchSegments(pat[1:], name[i:]) {
					return true
				}
			}
			return false
		}
		if len(name) == 0 {
			return false
		}
		if ok, err := path.Match(pat[0], name[0]); err != nil || !ok {
			return false
		}
		pat, name = pat[1:], name[1:]
	}
	return len(name) == 0
}

// matchesOrUnder reports whether name, or one of the directories it is
// in, matches pattern: a pattern naming a directory takes all of it.
func matchesOrUnder(pattern, name string) bool {
	for {
		if match(pattern, name) {
			return true
		}
		i := strings.LastIndexByte(name, '/')
		if i < 0 {
			return false
		}
		name = name[:i]
	}
}

// cleanPattern removes a leading "./" and trailing slashes.
func cleanPattern(p string) string {
	p = path.Clean(p)
	if p == "." {
		return "**"
	}
	return p
}

// splitGlob splits a path at its first segment with a glob character:
// "/var/lib/docker/**/*" is "/var/lib/docker" and "**/*". rest is empty
// when the path has no glob.
func splitGlob(p string) (root, rest string) {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		if strings.ContainsAny(s, "*?[") {
			root = strings.Join(segs[:i], "/")
			if root == "" && i > 0 {
				root = "/"
			}
			return root, strings.Join(segs[i:], "/")
		}
	}
	return p, ""
}
