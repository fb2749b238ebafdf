package fsm_test

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/canopy-coord/canopy/api"
	"github.com/canopy-coord/canopy/fsm"
)

// pagedTree has /p with 25 children c00..c24 created in shuffled order, and
// neighbours whose index keys sort next to /p's children.
func pagedTree(t *testing.T) *harness {
	h := newHarness(t)
	h.ok(create("/p", ""))
	r := rand.New(rand.NewPCG(1, 2))
	for _, i := range r.Perm(25) {
		h.ok(create(fmt.Sprintf("/p/c%02d", i), strings.Repeat("x", i)))
	}
	for _, p := range []string{"/p/c00/deep", "/p-x", "/p-x/a", "/p0", "/p0/a", "/o", "/o/z", "/pa", "/pa/a"} {
		h.ok(create(p, ""))
	}
	return h
}

func names(from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, fmt.Sprintf("c%02d", i))
	}
	return out
}

func TestChildrenPagesThroughSortedNames(t *testing.T) {
	h := pagedTree(t)
	for _, tc := range []struct {
		name      string
		after     string
		limit     int
		wantNames []string
		wantNext  string
	}{
		{"all", "", 0, names(0, 25), ""},
		{"negative limit is all", "", -1, names(0, 25), ""},
		{"first page", "", 10, names(0, 10), "c09"},
		{"second page", "c09", 10, names(10, 20), "c19"},
		{"last page", "c19", 10, names(20, 25), ""},
		{"a page that ends exactly at the end has no next", "c14", 10, names(15, 25), ""},
		{"limit equal to the count", "", 25, names(0, 25), ""},
		{"limit one", "c03", 1, names(4, 5), "c04"},
		{"after a name that is not there", "c105", 3, names(11, 14), "c13"},
		{"after a prefix of names", "c", 2, names(0, 2), "c01"},
		{"after the last", "c24", 10, nil, ""},
		{"after everything", "zzz", 10, nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			page, err := h.tree.Children("/p", tc.after, tc.limit, false)
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(page.Names) != fmt.Sprint(tc.wantNames) || page.Next != tc.wantNext {
				t.Errorf("Children(/p, %q, %d) = %v next %q, want %v next %q", tc.after, tc.limit, page.Names, page.Next, tc.wantNames, tc.wantNext)
			}
			if page.Stats != nil || page.HasStats {
				t.Errorf("stats without withStats: %v", page.Stats)
			}
			checkStat(t, "page parent", page.Stat, h.stat("/p"))
			if page.Zxid != h.zxid {
				t.Errorf("page zxid %d, want %d", page.Zxid, h.zxid)
			}
		})
	}
}

func TestChildrenPagingVisitsEveryChildOnce(t *testing.T) {
	h := pagedTree(t)
	for limit := 1; limit <= 26; limit++ {
		var all []string
		after := ""
		for pages := 0; ; pages++ {
			if pages > 30 {
				t.Fatalf("limit %d: paging does not end", limit)
			}
			page, err := h.tree.Children("/p", after, limit, false)
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, page.Names...)
			if page.Next == "" {
				break
			}
			after = page.Next
		}
		if fmt.Sprint(all) != fmt.Sprint(names(0, 25)) {
			t.Errorf("limit %d: pages gave %v", limit, all)
		}
	}
}

func TestChildrenWithStatsGivesEachChildsStat(t *testing.T) {
	h := pagedTree(t)
	page, err := h.tree.Children("/p", "c10", 3, true)
	if err != nil {
		t.Fatal(err)
	}
	if !page.HasStats || len(page.Stats) != len(page.Names) || fmt.Sprint(page.Names) != "[c11 c12 c13]" {
		t.Fatalf("page = %+v", page)
	}
	for i, n := range page.Names {
		checkStat(t, n, page.Stats[i], h.stat("/p/"+n))
		if page.Stats[i].DataLength != int32(11+i) {
			t.Errorf("%s: dataLength %d", n, page.Stats[i].DataLength)
		}
	}
}

func TestChildrenListsOnlyDirectChildren(t *testing.T) {
	h := pagedTree(t)
	for p, want := range map[string]string{
		"/":          "[o p p-x p0 pa zookeeper]",
		"/p-x":       "[a]",
		"/p0":        "[a]",
		"/o":         "[z]",
		"/p/c00":     "[deep]",
		"/p/c01":     "[]",
		"/zookeeper": "[config quota]",
	} {
		if got := fmt.Sprint(h.children(p)); got != want {
			t.Errorf("children of %s = %s, want %s", p, got, want)
		}
	}
	if _, err := h.tree.Children("/missing", "", 0, false); api.CodeOf(err) != api.CodeNoNode {
		t.Errorf("children of a missing node: %v, want NoNode", err)
	}
	if page, _ := h.tree.Children("/p/c01", "", 0, true); page.Names == nil || len(page.Names) != 0 {
		t.Errorf("children of a leaf = %#v, want an empty list", page.Names)
	}
}

func TestChildrenAfterIsComparedAsAName(t *testing.T) {
	// Names hold no "/", but `after` comes from the caller: one with a "/"
	// must not jump out of the parent's part of the index.
	h := newHarness(t)
	h.ok(create("/p", ""))
	for _, n := range []string{"w", "x", "x0", "xa", "y"} {
		h.ok(create("/p/"+n, ""))
	}
	page, err := h.tree.Children("/p", "x/y", 0, false)
	if err != nil {
		t.Fatal(err)
	}
	// "x/y" sorts after "x" and before "x0" ('/' < '0').
	if got, want := fmt.Sprint(page.Names), "[x0 xa y]"; got != want {
		t.Errorf(`Children("/p", after "x/y") = %s, want %s`, got, want)
	}
}

// subtreeFixture: /s{a{a1, a2{deep}}, b}, plus /s-x to tempt the index.
func subtreeFixture(t *testing.T) *harness {
	h := newHarness(t)
	for _, p := range []string{"/s", "/s/b", "/s/a", "/s/a/a2", "/s/a/a1", "/s/a/a2/deep", "/s-x", "/s-x/a"} {
		h.ok(create(p, ""))
	}
	return h
}

// shape renders a subtree as "path[children]", marking truncated nodes "…".
func shape(tn *api.TreeNode) string {
	s := tn.Path
	if tn.Truncated {
		s += "…"
	}
	if len(tn.Children) == 0 {
		return s
	}
	var kids []string
	for _, c := range tn.Children {
		kids = append(kids, shape(c))
	}
	return s + "[" + strings.Join(kids, " ") + "]"
}

func TestSubtreeHonoursDepthAndLimit(t *testing.T) {
	h := subtreeFixture(t)
	for _, tc := range []struct {
		path         string
		depth, limit int
		want         string
	}{
		{"/s", 0, 100, "/s…"},
		{"/s", 1, 100, "/s[/s/a… /s/b]"},
		{"/s", 2, 100, "/s[/s/a[/s/a/a1 /s/a/a2…] /s/b]"},
		{"/s", 3, 100, "/s[/s/a[/s/a/a1 /s/a/a2[/s/a/a2/deep]] /s/b]"},
		{"/s", 99, 100, "/s[/s/a[/s/a/a1 /s/a/a2[/s/a/a2/deep]] /s/b]"},
		{"/s", 3, 1, "/s…"},
		{"/s", 3, 2, "/s…[/s/a…]"},
		{"/s", 3, 3, "/s[/s/a… /s/b]"},
		{"/s", 3, 4, "/s[/s/a…[/s/a/a1] /s/b]"},
		{"/s", 3, 5, "/s[/s/a[/s/a/a1 /s/a/a2…] /s/b]"},
		{"/s", 3, 6, "/s[/s/a[/s/a/a1 /s/a/a2[/s/a/a2/deep]] /s/b]"},
		{"/s/a/a1", 5, 100, "/s/a/a1"},
		{"/zookeeper", 1, 100, "/zookeeper[/zookeeper/config /zookeeper/quota]"},
		{"/", 1, 100, "/[/s… /s-x… /zookeeper…]"},
	} {
		tn, zxid, err := h.tree.Subtree(tc.path, tc.depth, tc.limit)
		if err != nil {
			t.Errorf("Subtree(%s, %d, %d): %v", tc.path, tc.depth, tc.limit, err)
			continue
		}
		if got := shape(tn); got != tc.want {
			t.Errorf("Subtree(%s, depth %d, limit %d) = %s, want %s", tc.path, tc.depth, tc.limit, got, tc.want)
		}
		if zxid != h.zxid {
			t.Errorf("zxid %d, want %d", zxid, h.zxid)
		}
	}
}

func TestSubtreeCarriesStatsAndNonNilChildren(t *testing.T) {
	h := subtreeFixture(t)
	tn, _, err := h.tree.Subtree("/s", 5, 100)
	if err != nil {
		t.Fatal(err)
	}
	var walk func(*api.TreeNode)
	walk = func(n *api.TreeNode) {
		checkStat(t, n.Path, n.Stat, h.stat(n.Path))
		if n.Children == nil {
			t.Errorf("%s: Children is nil, want []", n.Path)
		}
		for _, c := range n.Children {
			walk(c)
		}
	}
	walk(tn)
	if _, _, err := h.tree.Subtree("/missing", 1, 10); api.CodeOf(err) != api.CodeNoNode {
		t.Errorf("Subtree of a missing node: %v, want NoNode", err)
	}
}

func TestReadsOfMalformedPathsFailWithoutPanicking(t *testing.T) {
	// The index splits every key at its last "/"; a key without one must
	// not panic (it did, slice bounds out of range), nor alias "/zookeeper".
	tree := fsm.NewTree()
	for _, p := range []string{"", "x", "zookeeper"} {
		for _, read := range []struct {
			name string
			call func() error
		}{
			{"Get", func() error { _, _, _, err := tree.Get(p); return err }},
			{"Stat", func() error { _, _, err := tree.Stat(p); return err }},
			{"Children", func() error { _, err := tree.Children(p, "", 0, false); return err }},
			{"Subtree", func() error { _, _, err := tree.Subtree(p, 1, 10); return err }},
		} {
			t.Run(fmt.Sprintf("%s(%q)", read.name, p), func(t *testing.T) {
				defer func() {
					if r := recover(); r != nil {
						t.Errorf("panic: %v", r)
					}
				}()
				if err := read.call(); err == nil {
					t.Errorf("no error")
				}
			})
		}
	}
}
