package httpapi

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/canopy-coord/canopy/api"
)

// maxData is the default limit of a node's data, inclusive.
const maxData = 1 << 20

func TestCreateFlagsAndCombinations(t *testing.T) {
	t.Parallel()
	n := startNode(t)
	sess := n.openSession(10000)
	withSession := hdr("Canopy-Session", sess.String())
	n.create("/seq", "")
	n.create("/kinds", "")

	cases := []struct {
		name     string
		url      string
		headers  map[string]string
		wantPath string
		owner    string // ephemeralOwner: the session, else 0 (containers and TTL nodes too, as in ZooKeeper)
	}{
		{"persistent", "/kinds/p", nil, "/kinds/p", "0x0"},
		{"flag=false is off", "/kinds/off?ephemeral=false&sequential=0&container=0&parents=false", nil, "/kinds/off", "0x0"},
		{"ephemeral", "/kinds/e?ephemeral", withSession, "/kinds/e", sess.String()},
		{"ephemeral=true", "/kinds/e2?ephemeral=true", withSession, "/kinds/e2", sess.String()},
		{"ephemeral=1", "/kinds/e3?ephemeral=1", withSession, "/kinds/e3", sess.String()},
		{"sequential counts the parent's cversion", "/seq/q-?sequential", nil, "/seq/q-0000000000", "0x0"},
		{"sequential again", "/seq/q-?sequential=true", nil, "/seq/q-0000000001", "0x0"},
		{"sequential with a trailing slash", "/seq/?sequential=1", nil, "/seq/0000000002", "0x0"},
		{"ephemeral sequential", "/seq/lock-?ephemeral&sequential", withSession, "/seq/lock-0000000003", sess.String()},
		{"container", "/kinds/c?container", nil, "/kinds/c", "0x0"},
		{"ttl", "/kinds/t?ttl_ms=60000", nil, "/kinds/t", "0x0"},
		{"ttl sequential", "/seq/t-?ttl_ms=1000&sequential", nil, "/seq/t-0000000004", "0x0"},
		{"largest ttl", "/kinds/tmax?ttl_ms=1099511627775", nil, "/kinds/tmax", "0x0"},
		{"parents", "/kinds/a/b/c?parents", nil, "/kinds/a/b/c", "0x0"},
		{"parents of an existing parent", "/kinds/a/b/d?parents=1", nil, "/kinds/a/b/d", "0x0"},
		{"parents ephemeral", "/kinds/pe/x?parents&ephemeral", withSession, "/kinds/pe/x", sess.String()},
		{"parents sequential", "/kinds/ps/y-?parents&sequential", nil, "/kinds/ps/y-0000000000", "0x0"},
		{"parents container", "/kinds/pc/c?parents&container", nil, "/kinds/pc/c", "0x0"},
		{"parents ttl", "/kinds/pt/t?parents&ttl_ms=5000", nil, "/kinds/pt/t", "0x0"},
		{"escaped names", "/kinds/a%20b%3Fc%25d%C3%BC", nil, "/kinds/a b?c%dü", "0x0"},
		{"sequential at the root", "/?sequential", nil, "", "0x0"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			body := "data of " + c.name
			r := n.expect(n.do("POST", "/v1/nodes"+c.url, body, c.headers), http.StatusCreated)
			var ps api.PathStat
			r.decode(t, &ps)
			if c.wantPath != "" && ps.Path != c.wantPath {
				t.Errorf("path = %q, want %q", ps.Path, c.wantPath)
			}
			if loc, want := r.header.Get("Location"), "/v1/nodes"+escapePath(ps.Path); loc != want {
				t.Errorf("Location = %q, want %q", loc, want)
			}
			if got := ps.Stat.EphemeralOwner.String(); got != c.owner {
				t.Errorf("ephemeralOwner = %s, want %s", got, c.owner)
			}
			if ps.Stat.Czxid != r.zxid(t) || ps.Stat.Mzxid != r.zxid(t) {
				t.Errorf("czxid %d, mzxid %d; Canopy-Zxid %d", ps.Stat.Czxid, ps.Stat.Mzxid, r.zxid(t))
			}
			if ps.Stat.Version != 0 || ps.Stat.DataLength != int32(len(body)) || ps.Stat.NumChildren != 0 {
				t.Errorf("stat %+v", ps.Stat)
			}
			// The Location names the node: reading it gives the data back.
			got := n.expect(n.do("GET", r.header.Get("Location")+"?raw", "", nil), http.StatusOK)
			if string(got.body) != body {
				t.Errorf("data = %q, want %q", got.body, body)
			}
		})
	}
	// The ancestors made by ?parents are plain persistent nodes.
	for _, p := range []string{"/kinds/a", "/kinds/a/b", "/kinds/pe", "/kinds/ps", "/kinds/pc", "/kinds/pt"} {
		st, ok := n.stat(p)
		if !ok || st.EphemeralOwner != 0 || st.DataLength != 0 {
			t.Errorf("%s: exists %v, stat %+v; want an empty persistent node", p, ok, st)
		}
	}
}

func TestCreateSequentialCountsChildrenEverCreated(t *testing.T) {
	t.Parallel()
	n := startNode(t)
	n.create("/q", "")
	n.create("/q/plain", "")
	n.expect(n.do("DELETE", "/v1/nodes/q/plain", "", nil), http.StatusNoContent)
	// One child was ever created: deletes do not count (cversion is 2 by now).
	if ps := n.create("/q/x-?sequential", ""); ps.Path != "/q/x-0000000001" {
		t.Errorf("path = %s, want /q/x-0000000001", ps.Path)
	}
	n.expect(n.do("DELETE", "/v1/nodes/q/x-0000000001", "", nil), http.StatusNoContent)
	if ps := n.create("/q/x-?sequential", ""); ps.Path != "/q/x-0000000002" {
		t.Errorf("path = %s, want /q/x-0000000002 (a gap after the delete)", ps.Path)
	}
	if st, _ := n.stat("/q"); st.Cversion != 5 || st.NumChildren != 1 {
		t.Errorf("parent stat %+v, want cversion 5 (creates plus deletes)", st)
	}
}

func TestCreateDataLimitIsInclusive(t *testing.T) {
	t.Parallel()
	n := startNode(t)
	data := strings.Repeat("x", maxData)
	ps := n.create("/big", data)
	if ps.Stat.DataLength != maxData {
		t.Errorf("dataLength = %d", ps.Stat.DataLength)
	}
	r := n.expect(n.do("PUT", "/v1/nodes/big", data, nil), http.StatusOK)
	var set api.PathStat
	r.decode(t, &set)
	if set.Stat.Version != 1 {
		t.Errorf("version = %d", set.Stat.Version)
	}
	got := n.expect(n.do("GET", "/v1/nodes/big?raw", "", nil), http.StatusOK)
	if len(got.body) != maxData {
		t.Errorf("raw data is %d bytes", len(got.body))
	}
	// Paths up to 4 KiB are fine.
	long := "/" + strings.Repeat("p", 4095)
	n.create(long, "")
	if !n.exists(long) {
		t.Errorf("a 4096-byte path was not created")
	}
}

func TestGetDataEncodings(t *testing.T) {
	t.Parallel()
	n := startNode(t)
	binary := "\xff\x00\xfe"
	n.create("/text", "héllo")
	n.create("/bin", binary)
	n.create("/empty", "")

	cases := []struct {
		url, data, encoding string
	}{
		{"/text", "héllo", "utf8"},
		{"/text?encoding=utf8", "héllo", "utf8"},
		{"/text?encoding=base64", base64.StdEncoding.EncodeToString([]byte("héllo")), "base64"},
		{"/text?raw=false", "héllo", "utf8"},
		{"/text?raw=0&encoding=base64", base64.StdEncoding.EncodeToString([]byte("héllo")), "base64"},
		{"/bin", base64.StdEncoding.EncodeToString([]byte(binary)), "base64"},
		{"/bin?encoding=utf8", base64.StdEncoding.EncodeToString([]byte(binary)), "base64"},
		{"/empty", "", "utf8"},
		{"/empty?encoding=base64", "", "base64"},
	}
	for _, c := range cases {
		r := n.expect(n.do("GET", "/v1/nodes"+c.url, "", nil), http.StatusOK)
		var nd api.NodeData
		r.decode(t, &nd)
		path, _, _ := strings.Cut(c.url, "?")
		if nd.Path != path || nd.Data != c.data || nd.Encoding != c.encoding {
			t.Errorf("%s: got %+v, want data %q encoding %s", c.url, nd, c.data, c.encoding)
		}
		if got := r.header.Get("ETag"); got != `"0"` {
			t.Errorf("%s: ETag %q", c.url, got)
		}
	}

	for _, c := range []struct{ url, data string }{
		{"/text?raw", "héllo"}, {"/text?raw=true", "héllo"}, {"/bin?raw=1", binary}, {"/empty?raw", ""},
	} {
		r := n.expect(n.do("GET", "/v1/nodes"+c.url, "", nil), http.StatusOK)
		if string(r.body) != c.data {
			t.Errorf("%s: body %q, want %q", c.url, r.body, c.data)
		}
		if ct := r.header.Get("Content-Type"); ct != "application/octet-stream" {
			t.Errorf("%s: Content-Type %q", c.url, ct)
		}
		path, _, _ := strings.Cut(c.url, "?")
		checkStatHeaders(t, n.client, r, path)
	}
}

// checkStatHeaders compares ETag and Canopy-Stat with the node's Stat.
func checkStatHeaders(t *testing.T, c *client, r *reply, path string) {
	t.Helper()
	want, ok := c.stat(path)
	if !ok {
		t.Fatalf("%s does not exist", path)
	}
	if got := r.header.Get("ETag"); got != `"`+strconv.Itoa(int(want.Version))+`"` {
		t.Errorf("%s: ETag %q, want version %d", path, got, want.Version)
	}
	var st api.Stat
	raw := r.header.Get("Canopy-Stat")
	if err := json.Unmarshal([]byte(raw), &st); err != nil || st != want {
		t.Errorf("%s: Canopy-Stat %q (%v), want %+v", path, raw, err, want)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, []byte(raw)); err != nil || compact.String() != raw {
		t.Errorf("%s: Canopy-Stat is not compact JSON: %q", path, raw)
	}
}

func TestHeadAndStat(t *testing.T) {
	t.Parallel()
	n := startNode(t)
	n.create("/h", "abc")
	n.expect(n.do("PUT", "/v1/nodes/h", "abcd", nil), http.StatusOK)

	r := n.expect(n.do("HEAD", "/v1/nodes/h", "", nil), http.StatusOK)
	checkStatHeaders(t, n.client, r, "/h")
	r = n.expect(n.do("HEAD", "/v1/nodes/", "", nil), http.StatusOK)
	checkStatHeaders(t, n.client, r, "/")
	r = n.expect(n.do("HEAD", "/v1/nodes/h?consistency=stale", "", nil), http.StatusOK)
	checkStatHeaders(t, n.client, r, "/h")
	n.expect(n.do("HEAD", "/v1/nodes/nope", "", nil), http.StatusNotFound)

	var ps api.PathStat
	n.expect(n.do("GET", "/v1/stat/h", "", nil), http.StatusOK).decode(t, &ps)
	if ps.Path != "/h" || ps.Stat.Version != 1 || ps.Stat.DataLength != 4 {
		t.Errorf("stat = %+v", ps)
	}
	r = n.expect(n.do("GET", "/v1/stat/nope", "", nil), http.StatusNotFound)
	if r.errorCode() != api.CodeNoNode {
		t.Errorf("stat of a missing node: code %s", r.errorCode())
	}
	n.expect(n.do("GET", "/v1/stat/", "", nil), http.StatusOK).decode(t, &ps)
	if ps.Path != "/" || ps.Stat.NumChildren != 2 {
		t.Errorf("stat of / = %+v", ps)
	}
}

func TestSetDataVersions(t *testing.T) {
	t.Parallel()
	n := startNode(t)
	created := n.create("/s", "v0")
	set := func(url, data string, h map[string]string) api.PathStat {
		t.Helper()
		r := n.expect(n.do("PUT", "/v1/nodes"+url, data, h), http.StatusOK)
		var ps api.PathStat
		r.decode(t, &ps)
		if got := r.header.Get("ETag"); got != `"`+strconv.Itoa(int(ps.Stat.Version))+`"` {
			t.Errorf("PUT %s: ETag %q, version %d", url, got, ps.Stat.Version)
		}
		if ps.Stat.Mzxid != r.zxid(t) {
			t.Errorf("PUT %s: mzxid %d, Canopy-Zxid %d", url, ps.Stat.Mzxid, r.zxid(t))
		}
		return ps
	}
	steps := []struct {
		url     string
		headers map[string]string
		version int32
	}{
		{"/s", nil, 1},
		{"/s?version=1", nil, 2},
		{"/s?version=-1", nil, 3},
		{"/s", hdr("If-Match", `"3"`), 4},
		{"/s", hdr("If-Match", `4`), 5},
		{"/s", hdr("If-Match", `*`), 6},
		{"/s", hdr("If-Match", `"-1"`), 7},
		{"/s?version=7", hdr("If-Match", `"7"`), 8},
	}
	for _, s := range steps {
		// The same bytes each time: every setData counts.
		ps := set(s.url, "same", s.headers)
		if ps.Path != "/s" || ps.Stat.Version != s.version || ps.Stat.Czxid != created.Stat.Czxid || ps.Stat.DataLength != 4 {
			t.Errorf("PUT %s %v: %+v, want version %d", s.url, s.headers, ps, s.version)
		}
	}
	r := n.expect(n.do("PUT", "/v1/nodes/s?version=3", "x", nil), http.StatusPreconditionFailed)
	if r.errorCode() != api.CodeBadVersion {
		t.Errorf("stale version: code %s", r.errorCode())
	}
	// The root's data may be set too.
	ps := set("/", "root data", nil)
	if ps.Path != "/" || ps.Stat.Version != 1 {
		t.Errorf("PUT /: %+v", ps)
	}
	// An empty body empties the data.
	ps = set("/s", "", nil)
	if ps.Stat.DataLength != 0 {
		t.Errorf("empty PUT: %+v", ps)
	}
}

func TestDeleteVersionAndRecursive(t *testing.T) {
	t.Parallel()
	n := startNode(t)
	n.create("/d", "")
	n.expect(n.do("PUT", "/v1/nodes/d", "x", nil), http.StatusOK)
	n.create("/d/a", "")
	n.create("/d/a/b", "")
	n.create("/d/c", "")
	n.create("/solo", "")
	n.create("/v", "")

	r := n.expect(n.do("DELETE", "/v1/nodes/d", "", nil), http.StatusConflict)
	if r.errorCode() != api.CodeNotEmpty {
		t.Errorf("delete of a parent: %s", r.errorCode())
	}
	r = n.expect(n.do("DELETE", "/v1/nodes/d?recursive&version=0", "", nil), http.StatusPreconditionFailed)
	if !n.exists("/d/a/b") {
		t.Errorf("a recursive delete with the wrong version deleted something")
	}
	r = n.expect(n.do("DELETE", "/v1/nodes/d?recursive=true&version=1", "", nil), http.StatusNoContent)
	if len(r.body) != 0 {
		t.Errorf("204 with a body: %q", r.body)
	}
	for _, p := range []string{"/d", "/d/a", "/d/a/b", "/d/c"} {
		if n.exists(p) {
			t.Errorf("%s survived the recursive delete", p)
		}
	}
	n.expect(n.do("DELETE", "/v1/nodes/solo?version=-1", "", nil), http.StatusNoContent)
	n.expect(n.do("DELETE", "/v1/nodes/v?version=0", "", nil), http.StatusNoContent)
	n.create("/w", "")
	n.expect(n.do("DELETE", "/v1/nodes/w?recursive", "", hdr("If-Match", `"0"`)), http.StatusNoContent)
	n.create("/r", "")
	n.expect(n.do("DELETE", "/v1/nodes/r?recursive=0", "", nil), http.StatusNoContent)
	// The root keeps /zookeeper only.
	var ch api.Children
	n.expect(n.do("GET", "/v1/children/", "", nil), http.StatusOK).decode(t, &ch)
	if got := ch.Children.([]any); len(got) != 1 || got[0] != "zookeeper" {
		t.Errorf("children of / = %v", got)
	}
}

func TestChildrenPaging(t *testing.T) {
	t.Parallel()
	n := startNode(t)
	n.create("/c", "")
	// Bytewise order: upper case, digits and punctuation before lower case, UTF-8 last.
	names := []string{"b", "a", "B", "ä", "a1", "0", "a-", "z"}
	for _, name := range names {
		n.create("/c/"+escapePath("/" + name)[1:], name)
	}
	sorted := []string{"0", "B", "a", "a-", "a1", "b", "z", "ä"}

	list := func(url string) api.Children {
		t.Helper()
		var ch api.Children
		n.expect(n.do("GET", url, "", nil), http.StatusOK).decode(t, &ch)
		return ch
	}
	names2 := func(ch api.Children) []string {
		var out []string
		for _, v := range ch.Children.([]any) {
			out = append(out, v.(string))
		}
		return out
	}

	all := list("/v1/children/c")
	if got := names2(all); strings.Join(got, ",") != strings.Join(sorted, ",") || all.Next != "" {
		t.Errorf("children = %v next %q, want %v", got, all.Next, sorted)
	}
	if all.Path != "/c" || all.Stat.NumChildren != int32(len(names)) || all.Stat.Cversion != int32(len(names)) {
		t.Errorf("parent stat: %+v", all)
	}

	// Page through with limit 3.
	var paged []string
	after := ""
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatalf("paging does not end")
		}
		url := "/v1/children/c?limit=3"
		if after != "" {
			url += "&after=" + escapeQuery(after)
		}
		ch := list(url)
		got := names2(ch)
		if len(got) > 3 {
			t.Fatalf("%s: %d children", url, len(got))
		}
		paged = append(paged, got...)
		if ch.Next == "" {
			break
		}
		if ch.Next != got[len(got)-1] {
			t.Errorf("%s: next %q is not the last name %q", url, ch.Next, got[len(got)-1])
		}
		after = ch.Next
	}
	if strings.Join(paged, ",") != strings.Join(sorted, ",") {
		t.Errorf("paged = %v, want %v", paged, sorted)
	}

	// A last page exactly full has no next.
	ch := list("/v1/children/c?limit=8")
	if len(names2(ch)) != 8 || ch.Next != "" {
		t.Errorf("limit=8: %v next %q", names2(ch), ch.Next)
	}
	ch = list("/v1/children/c?limit=7")
	if len(names2(ch)) != 7 || ch.Next != "z" {
		t.Errorf("limit=7: %v next %q", names2(ch), ch.Next)
	}
	// after need not name a child.
	ch = list("/v1/children/c?after=a0")
	if got := names2(ch); strings.Join(got, ",") != "a1,b,z,ä" {
		t.Errorf("after=a0: %v", got)
	}
	// '/' sorts between '-' and '1'; a slash in after is only a name to compare.
	ch = list("/v1/children/c?after=a%2Fb")
	if got := names2(ch); strings.Join(got, ",") != "a1,b,z,ä" {
		t.Errorf("after=a/b: %v", got)
	}
	ch = list("/v1/children/c?after=%C3%BF")
	if got := ch.Children.([]any); len(got) != 0 {
		t.Errorf("after the last: %v", got)
	}
	// A leaf has an empty list, not null.
	leaf := n.expect(n.do("GET", "/v1/children/c/z", "", nil), http.StatusOK)
	if !bytes.Contains(leaf.body, []byte(`"children":[]`)) {
		t.Errorf("leaf: %s", leaf.body)
	}

	// With ?stat, objects with each child's Stat.
	var withStat struct {
		Path     string          `json:"path"`
		Children []api.ChildStat `json:"children"`
		Stat     api.Stat        `json:"stat"`
		Next     string          `json:"next"`
	}
	n.expect(n.do("GET", "/v1/children/c?stat&limit=2&after=a", "", nil), http.StatusOK).decode(t, &withStat)
	if len(withStat.Children) != 2 || withStat.Children[0].Name != "a-" || withStat.Children[1].Name != "a1" || withStat.Next != "a1" {
		t.Fatalf("?stat: %+v", withStat)
	}
	for _, c := range withStat.Children {
		st, _ := n.stat("/c/" + c.Name)
		if c.Stat != st {
			t.Errorf("?stat %s: %+v, want %+v", c.Name, c.Stat, st)
		}
	}
	withStat.Next = ""
	n.expect(n.do("GET", "/v1/children/c?stat=1&consistency=stale", "", nil), http.StatusOK).decode(t, &withStat)
	if len(withStat.Children) != 8 || withStat.Next != "" {
		t.Errorf("?stat=1: %d children, next %q", len(withStat.Children), withStat.Next)
	}
}

func escapeQuery(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(escapePath("/" + s)[1:], "&", "%26"), "+", "%2B")
}

func TestTreeDepthLimitTruncated(t *testing.T) {
	t.Parallel()
	n := startNode(t)
	// /t: a (a1, a2 (deep)), b, c
	for _, p := range []string{"/t", "/t/a", "/t/a/a1", "/t/a/a2", "/t/a/a2/deep", "/t/b", "/t/c"} {
		n.create(p, "")
	}
	tree := func(url string) *api.TreeNode {
		t.Helper()
		var root api.TreeNode
		n.expect(n.do("GET", url, "", nil), http.StatusOK).decode(t, &root)
		return &root
	}
	// render lists paths with a * for truncated nodes, in the answer's order.
	var render func(tn *api.TreeNode) string
	render = func(tn *api.TreeNode) string {
		s := tn.Path
		if tn.Truncated {
			s += "*"
		}
		if tn.Children == nil {
			s += "(nil)"
		}
		if len(tn.Children) > 0 {
			var kids []string
			for _, k := range tn.Children {
				kids = append(kids, render(k))
			}
			s += "[" + strings.Join(kids, " ") + "]"
		}
		return s
	}
	cases := []struct{ url, want string }{
		{"/v1/tree/t", "/t[/t/a* /t/b /t/c]"},
		{"/v1/tree/t?depth=0", "/t*"},
		{"/v1/tree/t?depth=1", "/t[/t/a* /t/b /t/c]"},
		{"/v1/tree/t?depth=2", "/t[/t/a[/t/a/a1 /t/a/a2*] /t/b /t/c]"},
		{"/v1/tree/t?depth=3", "/t[/t/a[/t/a/a1 /t/a/a2[/t/a/a2/deep]] /t/b /t/c]"},
		{"/v1/tree/t?depth=1000", "/t[/t/a[/t/a/a1 /t/a/a2[/t/a/a2/deep]] /t/b /t/c]"},
		{"/v1/tree/t?depth=3&limit=1", "/t*"},
		{"/v1/tree/t?depth=3&limit=2", "/t*[/t/a*]"},
		{"/v1/tree/t?depth=3&limit=4", "/t[/t/a* /t/b /t/c]"},
		{"/v1/tree/t?depth=3&limit=5", "/t[/t/a*[/t/a/a1] /t/b /t/c]"},
		{"/v1/tree/t?depth=3&limit=6", "/t[/t/a[/t/a/a1 /t/a/a2*] /t/b /t/c]"},
		{"/v1/tree/t?depth=3&limit=7", "/t[/t/a[/t/a/a1 /t/a/a2[/t/a/a2/deep]] /t/b /t/c]"},
		{"/v1/tree/t?depth=3&limit=10000", "/t[/t/a[/t/a/a1 /t/a/a2[/t/a/a2/deep]] /t/b /t/c]"},
		{"/v1/tree/t/b", "/t/b"},
		{"/v1/tree/t/a/a2?depth=5&consistency=stale", "/t/a/a2[/t/a/a2/deep]"},
		{"/v1/tree/?depth=1", "/[/t* /zookeeper*]"},
	}
	for _, c := range cases {
		if got := render(tree(c.url)); got != c.want {
			t.Errorf("%s:\n got %s\nwant %s", c.url, got, c.want)
		}
	}
	// Stats in the tree are the nodes' Stats.
	root := tree("/v1/tree/t?depth=3")
	var check func(tn *api.TreeNode)
	check = func(tn *api.TreeNode) {
		if st, _ := n.stat(tn.Path); st != tn.Stat {
			t.Errorf("tree stat of %s: %+v, want %+v", tn.Path, tn.Stat, st)
		}
		for _, k := range tn.Children {
			check(k)
		}
	}
	check(root)
}

func TestSync(t *testing.T) {
	t.Parallel()
	n := startNode(t)
	w := n.expect(n.do("POST", "/v1/nodes/x", "", nil), http.StatusCreated)
	for _, url := range []string{"/v1/sync/x", "/v1/sync/missing/too", "/v1/sync/", "/v1/sync"} {
		var res api.SyncResult
		r := n.expect(n.do("POST", url, "", nil), http.StatusOK)
		r.decode(t, &res)
		if res.Zxid < w.zxid(t) || res.Zxid != r.zxid(t) {
			t.Errorf("%s: zxid %d, Canopy-Zxid %d, last write %d", url, res.Zxid, r.zxid(t), w.zxid(t))
		}
	}
}

// TestConcurrentSequentialCreatesGetDistinctNames: clients racing to create
// sequential children each get their own name, and the names are the
// numbers 0..n-1 with no gap.
func TestConcurrentSequentialCreatesGetDistinctNames(t *testing.T) {
	t.Parallel()
	n := startNode(t)
	n.create("/q", "")
	const clients, each = 10, 5
	names := make(chan string, clients*each)
	var wg sync.WaitGroup
	for i := 0; i < clients; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := newClient(t, n.base)
			for j := 0; j < each; j++ {
				r := c.do("POST", "/v1/nodes/q/job-?sequential", "", nil)
				var ps api.PathStat
				if r.status != http.StatusCreated || json.Unmarshal(r.body, &ps) != nil {
					t.Errorf("create: %d %s", r.status, r.body)
					return
				}
				names <- ps.Path
			}
		}()
	}
	wg.Wait()
	close(names)
	seen := map[string]bool{}
	for p := range names {
		if seen[p] {
			t.Errorf("%s created twice", p)
		}
		seen[p] = true
	}
	for i := 0; i < clients*each; i++ {
		if p := fmt.Sprintf("/q/job-%010d", i); !seen[p] {
			t.Errorf("%s missing", p)
		}
	}
}
