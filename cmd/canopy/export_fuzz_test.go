package main

import (
	"bytes"
	"slices"
	"strings"
	"testing"
)

// FuzzReadExport: import reads files people edit by hand. Whatever the
// bytes, readExport must answer with an error or a file whose every node
// lies under its root, that writes back out and reads back the same, and
// whose paths stay absolute when moved under another root (--into).
func FuzzReadExport(f *testing.F) {
	f.Add([]byte(`{"format":"canopy-export/1","path":"/app","zxid":7,"nodes":[
{"path":"/app","data":"","encoding":"utf8"},
{"path":"/app/b","data":"AP8=","encoding":"base64"},
{"path":"/app/e","data":"x","encoding":"utf8","kind":"ephemeral","ephemeralOwner":"0x1f"}
]}`))
	f.Add([]byte(`{"format":"canopy-export/1","path":"/","zxid":1,"nodes":[{"path":"/a","data":"1"}]}`))
	f.Add([]byte(`{"format":"canopy-export/1","path":"/a","nodes":[{"path":"/ab","data":""}]}`))
	f.Add([]byte(`{"format":"canopy-export/2"}`))
	f.Add([]byte(`{"format":"canopy-export/1","path":"/a","nodes":[{"path":"/a/x","data":"%%%","encoding":"base64"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := readExport(data)
		if err != nil {
			return
		}
		for _, n := range file.Nodes {
			for _, into := range []string{"/", "/into", file.Path} {
				if p := rebase(n.Path, file.Path, into); !strings.HasPrefix(p, "/") {
					t.Fatalf("rebase(%q, %q, %q) = %q: not absolute", n.Path, file.Path, into, p)
				}
			}
		}
		var out bytes.Buffer
		if err := writeExport(&out, file); err != nil {
			t.Fatalf("writeExport of a file readExport accepted: %v", err)
		}
		again, err := readExport(out.Bytes())
		if err != nil {
			t.Fatalf("readExport of what writeExport wrote: %v\n%s", err, out.Bytes())
		}
		if again.Path != file.Path || !slices.EqualFunc(again.Nodes, file.Nodes, func(a, b exportNode) bool {
			return a.Path == b.Path && a.Data == b.Data && a.Encoding == b.Encoding && a.Kind == b.Kind
		}) {
			t.Fatalf("export file changed through a write and a read:\n%+v\n%+v", file, again)
		}
	})
}
