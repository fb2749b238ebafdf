package fsm

import (
	"strings"
	"unicode/utf8"

	"github.com/canopy-coord/canopy/api"
)

// ReservedPath is ZooKeeper's system subtree. Every write under it is refused.
const ReservedPath = "/zookeeper"

// ValidatePath checks a znode path by ZooKeeper's rules (PathUtils.validatePath):
// absolute, no empty segment, no trailing slash except the root, no "." or ".."
// segment, valid UTF-8 and no code point ZooKeeper rejects. ZooKeeper works on
// UTF-16 and so also rejects every code point above U+FFFF (they need
// surrogates, U+D800–DFFF); Canopy does the same so that both accept the same
// names.
func ValidatePath(p string) error {
	if p == "" {
		return api.Errorf(api.CodeBadArguments, p, "path is empty")
	}
	if p[0] != '/' {
		return api.Errorf(api.CodeBadArguments, p, "path must start with /")
	}
	if p == "/" {
		return nil
	}
	if p[len(p)-1] == '/' {
		return api.Errorf(api.CodeBadArguments, p, "path must not end with /")
	}
	segStart := 1
	for i := 1; i <= len(p); i++ {
		if i < len(p) && p[i] != '/' {
			continue
		}
		if err := validateSegment(p, p[segStart:i]); err != nil {
			return err
		}
		segStart = i + 1
	}
	return nil
}

func validateSegment(p, seg string) error {
	switch seg {
	case "":
		return api.Errorf(api.CodeBadArguments, p, "path has an empty segment")
	case ".", "..":
		return api.Errorf(api.CodeBadArguments, p, "path has a relative segment %q", seg)
	}
	for i := 0; i < len(seg); {
		r, size := utf8.DecodeRuneInString(seg[i:])
		if r == utf8.RuneError && size <= 1 {
			return api.Errorf(api.CodeBadArguments, "", "path is not valid UTF-8")
		}
		if rejectedRune(r) {
			return api.Errorf(api.CodeBadArguments, "", "path has a forbidden character U+%04X", r)
		}
		i += size
	}
	return nil
}

func rejectedRune(r rune) bool {
	return r <= 0x1f ||
		(r >= 0x7f && r <= 0x9f) ||
		(r >= 0xd800 && r <= 0xf8ff) ||
		r >= 0xfff0
}

// IsReserved reports whether p is /zookeeper or below it.
func IsReserved(p string) bool {
	return p == ReservedPath || strings.HasPrefix(p, ReservedPath+"/")
}

// splitPath returns the parent directory key and the last name of p. The root
// "/" splits into ("", ""), "/a" into ("", "a"), "/a/b" into ("/a", "b"): so
// ordering nodes by (dir, name) keeps every node's children contiguous and
// sorted by name, which is what the tree's index relies on.
func splitPath(p string) (dir, name string) {
	i := strings.LastIndexByte(p, '/')
	if i < 0 { // never a valid path; kept total so that no input can panic
		return "", p
	}
	return p[:i], p[i+1:]
}

// ParentPath returns the parent of a non-root path ("/" for "/a").
func ParentPath(p string) string {
	dir, _ := splitPath(p)
	if dir == "" {
		return "/"
	}
	return dir
}

// BaseName returns the last segment of p ("" for the root).
func BaseName(p string) string {
	_, name := splitPath(p)
	return name
}

// JoinPath appends a child name to a parent path.
func JoinPath(parent, name string) string {
	if parent == "/" {
		return "/" + name
	}
	return parent + "/" + name
}

// dirKey is the dir part that p's children have in the index.
func dirKey(p string) string {
	if p == "/" {
		return ""
	}
	return p
}
