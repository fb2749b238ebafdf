package fsm_test

import (
	"errors"
	"testing"

	"github.com/canopy-coord/canopy/api"
	"github.com/canopy-coord/canopy/fsm"
)

func TestValidatePathAcceptsZooKeeperPaths(t *testing.T) {
	for _, p := range []string{
		"/",
		"/a",
		"/a/b/c",
		"/zookeeper",
		"/a.b",
		"/.a",
		"/a.",
		"/...",
		"/a..b",
		"/a b",
		"/~!@#$%^&*()",
		"/ü",
		"/日本語",
		"/\u00a0",  // just past the C1 controls
		"/\u00a0x", // same
		"/\ud7ff",  // just before the surrogates
		"/\uf900",  // just past the private use area
		"/\uffef",  // just before the specials
		"/-1",      // what a sequential suffix looks like after cversion overflow
		"/a/b/c/d/e/f/g/h",
	} {
		if err := fsm.ValidatePath(p); err != nil {
			t.Errorf("ValidatePath(%q) = %v, want nil", p, err)
		}
	}
}

func TestValidatePathRejectsWhatZooKeeperRejects(t *testing.T) {
	for _, tc := range []struct {
		name, path string
	}{
		{"empty", ""},
		{"relative", "a"},
		{"relative with slash", "a/b"},
		{"double slash", "//"},
		{"triple slash", "///"},
		{"empty segment", "/a//b"},
		{"trailing slash", "/a/"},
		{"trailing slash deep", "/a/b/"},
		{"dot", "/."},
		{"dotdot", "/.."},
		{"dot segment", "/a/./b"},
		{"dotdot segment", "/a/../b"},
		{"trailing dotdot", "/a/.."},
		{"NUL", "/a\x00b"},
		{"U+0001", "/\x01"},
		{"tab", "/a\tb"},
		{"newline", "/a\n"},
		{"U+001F", "/\x1f"},
		{"DEL U+007F", "/\x7f"},
		{"U+0080", "/\u0080"},
		{"U+009F", "/\u009f"},
		{"U+D800 first of the range (encoded surrogate)", "/\xed\xa0\x80"},
		{"U+DFFF encoded surrogate", "/\xed\xbf\xbf"},
		{"U+E000 private use", "/\ue000"},
		{"U+F8FF last private use", "/\uf8ff"},
		{"U+FFF0", "/\ufff0"},
		{"U+FFFD replacement character", "/\ufffd"},
		{"U+FFFE", "/\ufffe"},
		{"U+FFFF", "/\uffff"},
		{"U+10000 first above the BMP", "/\U00010000"},
		{"emoji", "/\U0001F600"},
		{"U+10FFFF", "/\U0010FFFF"},
		{"invalid byte", "/\xff"},
		{"truncated sequence", "/\xc3"},
		{"overlong slash", "/\xc0\xaf"},
		{"lone continuation byte", "/a\x80"},
		{"bad segment after good ones", "/a/b/\x00"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := fsm.ValidatePath(tc.path)
			if err == nil {
				t.Fatalf("ValidatePath(%q) = nil, want BadArguments", tc.path)
			}
			if got := api.CodeOf(err); got != api.CodeBadArguments {
				t.Errorf("ValidatePath(%q): code %s, want BadArguments", tc.path, got)
			}
			if !errors.Is(err, &api.Error{Code: api.CodeBadArguments}) {
				t.Errorf("ValidatePath(%q) = %v: errors.Is BadArguments is false", tc.path, err)
			}
		})
	}
}

func TestPathHelpersSplitAndJoin(t *testing.T) {
	for _, tc := range []struct {
		path, parent, base string
	}{
		{"/a", "/", "a"},
		{"/a/b", "/a", "b"},
		{"/a/b/c", "/a/b", "c"},
		{"/zookeeper/quota", "/zookeeper", "quota"},
	} {
		if got := fsm.ParentPath(tc.path); got != tc.parent {
			t.Errorf("ParentPath(%q) = %q, want %q", tc.path, got, tc.parent)
		}
		if got := fsm.BaseName(tc.path); got != tc.base {
			t.Errorf("BaseName(%q) = %q, want %q", tc.path, got, tc.base)
		}
		if got := fsm.JoinPath(tc.parent, tc.base); got != tc.path {
			t.Errorf("JoinPath(%q, %q) = %q, want %q", tc.parent, tc.base, got, tc.path)
		}
	}
	if got := fsm.BaseName("/"); got != "" {
		t.Errorf(`BaseName("/") = %q, want ""`, got)
	}
}

func TestIsReservedCoversZookeeperAndBelowOnly(t *testing.T) {
	for p, want := range map[string]bool{
		"/zookeeper":         true,
		"/zookeeper/config":  true,
		"/zookeeper/quota/x": true,
		"/zookeeper0":        false,
		"/zookeeperx/a":      false,
		"/zoo":               false,
		"/":                  false,
		"/a/zookeeper":       false,
	} {
		if got := fsm.IsReserved(p); got != want {
			t.Errorf("IsReserved(%q) = %v, want %v", p, got, want)
		}
	}
}
