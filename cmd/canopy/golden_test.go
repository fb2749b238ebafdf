package main

import (
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/canopy-coord/canopy/internal/testnode"
)

var update = flag.Bool("update", false, "rewrite the golden files of testdata/")

// normalize replaces what differs from run to run, and only that: the
// zxids and times of stat, and the times of stat tables (same width, so
// the columns stay aligned). TestMain makes the local time UTC.
func normalize(s string) string {
	s = statZxid.ReplaceAllString(s, "$1 = <zxid>")
	s = statTime.ReplaceAllString(s, "$1 = <time>")
	return tableTime.ReplaceAllString(s, "YYYY-MM-DD hh:mm:ss.mmm UTC")
}

var (
	statZxid  = regexp.MustCompile(`(?m)^(czxid|mzxid|pzxid) = \d+$`)
	statTime  = regexp.MustCompile(`(?m)^(ctime|mtime) = \d+ \([^)]*\)$`)
	tableTime = regexp.MustCompile(`\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} UTC`)
)

func TestTextOutputMatchesGoldenFiles(t *testing.T) {
	nd := testnode.Start(t)
	for _, args := range [][]string{
		{"create", "/app", "config v1"},
		{"create", "/app/workers"},
		{"create", "/app/workers/w1", "host-1"},
		{"create", "/app/workers/w2", "host-2"},
		{"create", "/app/locks"},
		{"create", "/app/z", "last"},
		{"set", "/app", "config v2"},
	} {
		canopyAt(t, nd.URL, args...).ok(t)
	}
	for _, tc := range []struct {
		golden string
		args   []string
	}{
		{"ls-R.golden", []string{"ls", "-R", "/app"}},
		{"ls-R-s.golden", []string{"ls", "-R", "-s", "/app"}},
		{"ls-s.golden", []string{"ls", "-s", "/app"}},
		{"get-s.golden", []string{"get", "-s", "/app"}},
		{"stat.golden", []string{"stat", "/app/workers"}},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			matchGolden(t, tc.golden, tc.args, normalize(canopyAt(t, nd.URL, tc.args...).ok(t).out))
		})
	}
}

// matchGolden compares what canopy args printed with testdata/golden
// (which -update rewrites).
func matchGolden(t *testing.T, golden string, args []string, got string) {
	t.Helper()
	file := filepath.Join("testdata", golden)
	if *update {
		if err := os.WriteFile(file, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("%v (run with -update to write it)", err)
	}
	if got != string(want) {
		t.Errorf("canopy %q printed\n%s\nwant (%s)\n%s", args, got, file, want)
	}
}
