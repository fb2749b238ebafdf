package httpapi

import (
	"net/http"
	"testing"

	"github.com/canopy-coord/canopy/api"
)

// An encoded slash is a separator like "/" (DESIGN §4): a client generated
// from openapi.yaml encodes the whole path as one parameter, and reaches
// nested nodes on every route.
func TestEncodedSlashIsASeparator(t *testing.T) {
	t.Parallel()
	n := startNode(t)
	n.create("/enc", "")
	r := n.expect(n.do("POST", "/v1/nodes/enc%2Fkid", "made", nil), http.StatusCreated)
	var made api.PathStat
	r.decode(t, &made)
	if made.Path != "/enc/kid" || r.header.Get("Location") != "/v1/nodes/enc/kid" {
		t.Fatalf("create enc%%2Fkid: path %q, Location %q; want /enc/kid", made.Path, r.header.Get("Location"))
	}
	var got api.NodeData
	n.expect(n.do("GET", "/v1/nodes/enc%2fkid", "", nil), http.StatusOK).decode(t, &got)
	if got.Path != "/enc/kid" || got.Data != "made" {
		t.Fatalf("get enc%%2fkid = %+v", got)
	}
	n.expect(n.do("PUT", "/v1/nodes/enc%2Fkid?version=0", "again", nil), http.StatusOK)
	n.expect(n.do("GET", "/v1/stat/enc%2Fkid", "", nil), http.StatusOK)
	var kids api.Children
	n.expect(n.do("GET", "/v1/children/enc", "", nil), http.StatusOK).decode(t, &kids)
	if names, _ := kids.Children.([]any); len(names) != 1 || names[0] != "kid" {
		t.Fatalf("children of /enc = %v, want [kid]", kids.Children)
	}
	n.expect(n.do("DELETE", "/v1/nodes/enc%2Fkid", "", nil), http.StatusNoContent)
	if n.exists("/enc/kid") {
		t.Fatal("/enc/kid still exists after DELETE /v1/nodes/enc%2Fkid")
	}
}
