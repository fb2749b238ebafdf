package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/canopy-coord/canopy/client"
	"github.com/canopy-coord/canopy/internal/testnode"
)

// smallPages makes the tree walker page every few nodes for one test.
func smallPages(t *testing.T, n int) {
	old := treePage
	treePage = n
	t.Cleanup(func() { treePage = old })
}

// fill creates nodes through the client in multis, parents first.
func fill(t *testing.T, c *client.Client, nodes map[string]string) {
	t.Helper()
	paths := make([]string, 0, len(nodes))
	for p := range nodes {
		paths = append(paths, p)
	}
	slices.SortFunc(paths, func(a, b string) int { return depth(a) - depth(b) })
	for len(paths) > 0 {
		n := min(len(paths), 500)
		var ops []client.Op
		for _, p := range paths[:n] {
			ops = append(ops, client.CreateOp(p, []byte(nodes[p]), nil))
		}
		if _, err := c.Multi(ctxT(t), ops...); err != nil {
			t.Fatal(err)
		}
		paths = paths[n:]
	}
}

// subtree reads every node under root through the client, paths relative
// to root, with their data.
func subtree(t *testing.T, c *client.Client, root string) map[string]string {
	t.Helper()
	out := map[string]string{}
	var walk func(p string)
	walk = func(p string) {
		nd := mustGet(t, c, p)
		out[strings.TrimPrefix(p, root)] = string(nd.Data)
		kids, _, err := c.Children(ctxT(t), p)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range kids {
			walk(childPath(p, k))
		}
	}
	walk(root)
	return out
}

// sampleTree is a tree with what an export must carry: binary data,
// empty data, text that is not ASCII, depth and width.
func sampleTree(root string, wide int) map[string]string {
	nodes := map[string]string{
		root:                    "root data",
		root + "/bin":           "\x00\x01\xff\xfe binary \x80",
		root + "/empty":         "",
		root + "/text":          "héllo, wörld ✓\nsecond line",
		root + "/deep":          "",
		root + "/deep/a":        "a",
		root + "/deep/a/b":      "b",
		root + "/deep/a/b/c":    "c",
		root + "/deep/a/b/c/d":  "{\"json\": true}",
		root + "/wide":          "",
		root + "/deep/a/b/c/d2": "",
	}
	for i := 0; i < wide; i++ {
		nodes[fmt.Sprintf("%s/wide/n%04d", root, i)] = fmt.Sprintf("value %d", i)
	}
	return nodes
}

func TestLsRecursivePagesThroughTruncatedTrees(t *testing.T) {
	nd := testnode.Start(t)
	c := newClient(t, nd.URL)
	nodes := sampleTree("/t", 25)
	fill(t, c, nodes)
	whole := canopyAt(t, nd.URL, "ls", "-R", "/t").ok(t).out

	var want []string
	for p := range nodes {
		want = append(want, p)
	}
	slices.Sort(want) // pre-order by sorted names is the sorted paths here
	if got := lines(whole); !slices.Equal(got, want) {
		t.Fatalf("ls -R printed\n%s\nwant\n%s", whole, strings.Join(want, "\n"))
	}
	// Pages of 3 nodes: cut inside every level and every child list.
	smallPages(t, 3)
	if paged := canopyAt(t, nd.URL, "ls", "-R", "/t").ok(t).out; paged != whole {
		t.Errorf("ls -R in pages of 3 printed\n%s\nwant\n%s", paged, whole)
	}
	if paged := canopyAt(t, nd.URL, "ls", "/t/wide").ok(t).out; len(lines(paged)) != 25 {
		t.Errorf("ls in pages of 3 listed %d children, want 25", len(lines(paged)))
	}
}

func TestExportImportRoundTripsATree(t *testing.T) {
	src, dst := testnode.Start(t), testnode.Start(t)
	cs, cd := newClient(t, src.URL), newClient(t, dst.URL)
	nodes := sampleTree("/app", 1100) // more than two import batches
	fill(t, cs, nodes)
	// An ephemeral node: exported as such, not recreated by default.
	sess, err := cs.NewSession(ctxT(t), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close(ctxT(t))
	if _, _, err := sess.Create(ctxT(t), "/app/deep/eph", []byte("held"), &client.CreateOptions{Ephemeral: true}); err != nil {
		t.Fatal(err)
	}
	smallPages(t, 100)

	file := filepath.Join(t.TempDir(), "app.json")
	canopyAt(t, src.URL, "export", "/app", "-f", file).ok(t)
	raw, _ := os.ReadFile(file)
	var f exportFile
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatalf("the export is not JSON: %v", err)
	}
	if f.Format != exportFormat || f.Path != "/app" || len(f.Nodes) != len(nodes)+1 {
		t.Fatalf("export: format %q, path %q, %d nodes; want %d", f.Format, f.Path, len(f.Nodes), len(nodes)+1)
	}
	for _, n := range f.Nodes {
		switch n.Path {
		case "/app/bin":
			if n.Encoding != "base64" {
				t.Errorf("binary data exported as %q", n.Encoding)
			}
		case "/app/text":
			if n.Encoding != "utf8" || n.Data != nodes["/app/text"] {
				t.Errorf("text exported as %q %q", n.Encoding, n.Data)
			}
		case "/app/deep/eph":
			if n.Kind != "ephemeral" || n.Owner == nil || *n.Owner != sess.ID() {
				t.Errorf("the ephemeral node exported as %+v", n)
			}
		}
	}

	// Into another cluster, at the same paths: the same tree, byte for byte.
	r := canopyAt(t, dst.URL, "import", file).ok(t)
	if r.out != "imported /app into /app: 1111 created, 0 updated, 0 unchanged, 1 skipped\n" {
		t.Errorf("import printed %q", r.out)
	}
	want := subtree(t, cs, "/app")
	delete(want, "/deep/eph")
	if got := subtree(t, cd, "/app"); !mapsEqual(got, want) {
		t.Errorf("imported tree differs from the source: %d nodes, want %d", len(got), len(want))
	}
	// Moved with --into, from stdin.
	canopyIn(t, dst.URL, string(raw), "import", "--into", "/copy/of/app", "-").ok(t)
	if got := subtree(t, cd, "/copy/of/app"); !mapsEqual(got, want) {
		t.Errorf("tree imported --into /copy/of/app differs from the source")
	}
	// --ephemerals recreates the ephemeral as a persistent node.
	canopyAt(t, dst.URL, "import", "--into", "/with-eph", "--ephemerals", file).ok(t)
	if nd := mustGet(t, cd, "/with-eph/deep/eph"); string(nd.Data) != "held" || nd.Stat.EphemeralOwner != 0 {
		t.Errorf("--ephemerals made %+v", nd)
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func TestImportRefusesToOverwriteUnlessAsked(t *testing.T) {
	nd := testnode.Start(t)
	c := newClient(t, nd.URL)
	fill(t, c, map[string]string{"/cfg": "", "/cfg/a": "1", "/cfg/b": "2"})
	file := filepath.Join(t.TempDir(), "cfg.json")
	canopyAt(t, nd.URL, "export", "-f", file, "/cfg").ok(t)

	// The same data again: nothing to do.
	if r := canopyAt(t, nd.URL, "import", file).ok(t); !strings.Contains(r.out, "0 created, 0 updated, 3 unchanged") {
		t.Errorf("import over the same tree printed %q", r.out)
	}
	// Changed data, and a node that is not in the file.
	canopyAt(t, nd.URL, "set", "/cfg/a", "changed").ok(t)
	canopyAt(t, nd.URL, "delete", "/cfg/b").ok(t)
	canopyAt(t, nd.URL, "create", "/cfg/extra").ok(t)
	r := canopyAt(t, nd.URL, "import", file).fails(t, exitConflict)
	if !strings.Contains(r.err, "/cfg/a") || !strings.Contains(r.err, "--overwrite") {
		t.Errorf("refusal: %q", r.err)
	}
	if exists(t, c, "/cfg/b") || string(mustGet(t, c, "/cfg/a").Data) != "changed" {
		t.Error("a refused import changed the tree")
	}
	var res importResult
	decodeJSON(t, canopyAt(t, nd.URL, "import", "--overwrite", "-o", "json", file).ok(t).out, &res)
	if res != (importResult{Path: "/cfg", Created: 1, Updated: 1, Unchanged: 1}) {
		t.Errorf("import --overwrite: %+v", res)
	}
	if string(mustGet(t, c, "/cfg/a").Data) != "1" || !exists(t, c, "/cfg/b") || !exists(t, c, "/cfg/extra") {
		t.Error("import --overwrite did not restore the file's nodes, or deleted another")
	}
}

func TestImportRejectsWhatExportDoesNotWrite(t *testing.T) {
	nd := testnode.Start(t)
	for _, bad := range []string{
		`not json`,
		`{"format":"other/1","path":"/a","nodes":[]}`,
		`{"format":"canopy-export/1","path":"/a","nodes":[{"path":"/b","data":"","encoding":"utf8"}]}`,
		`{"format":"canopy-export/1","path":"/a","nodes":[{"path":"/a","data":"!!","encoding":"base64"}]}`,
		`{"format":"canopy-export/1","path":"/a","nodes":[{"path":"/a","data":"","encoding":"utf8","extra":1}]}`,
	} {
		if r := canopyIn(t, nd.URL, bad, "import", "-"); r.code != exitError || !strings.HasPrefix(r.err, "canopy: import: stdin: ") {
			t.Errorf("import of %s: exit %d, stderr %q", bad, r.code, r.err)
		}
	}
}

func TestRebase(t *testing.T) {
	for _, tc := range []struct{ p, from, to, want string }{
		{"/a", "/a", "/b", "/b"},
		{"/a/x/y", "/a", "/b", "/b/x/y"},
		{"/a/x", "/a", "/", "/x"},
		{"/", "/", "/b", "/b"},
		{"/x/y", "/", "/b", "/b/x/y"},
		{"/x/y", "/", "/", "/x/y"},
	} {
		if got := rebase(tc.p, tc.from, tc.to); got != tc.want {
			t.Errorf("rebase(%q, %q, %q) = %q, want %q", tc.p, tc.from, tc.to, got, tc.want)
		}
	}
}
