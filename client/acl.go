package client

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"

	"github.com/canopy-coord/canopy/api"
)

// ACLs (DESIGN §9): a node's access list is ZooKeeper's, per node and not
// inherited. Create sets one with CreateOptions.ACL; these read and
// replace it, and tell who the server takes the caller for.

// The ACL types, under the client's name.
type (
	ACL       = api.ACL
	ACLResult = api.ACLResult
	Perms     = api.Perms
)

// GetACL returns a node's ACL and Stat (Stat.Aversion is the version
// SetACL checks). It needs READ or ADMIN on the node; without ADMIN the
// digest ids come masked ("alice:x"), as ZooKeeper masks them.
func (c *Client) GetACL(ctx context.Context, path string) (api.ACLResult, error) {
	var out api.ACLResult
	err := c.call(ctx, &request{method: http.MethodGet, route: "/v1/acl", path: path, node: true, idempotent: true}, &out)
	return out, err
}

// SetACL replaces a node's ACL if its ACL version is aversion (AnyVersion:
// any), and returns the new ACL and Stat. It needs ADMIN on the node
// (ErrNoAuth otherwise); an empty or malformed acl is ErrInvalidACL.
func (c *Client) SetACL(ctx context.Context, path string, acl []api.ACL, aversion int32) (api.ACLResult, error) {
	if acl == nil {
		acl = []api.ACL{} // the server's InvalidACL, not a JSON null
	}
	body, err := json.Marshal(api.SetACLRequest{ACL: acl})
	if err != nil {
		return api.ACLResult{}, err
	}
	var q url.Values
	if aversion != AnyVersion {
		q = url.Values{"aversion": {strconv.FormatInt(int64(aversion), 10)}}
	}
	var out api.ACLResult
	err = c.call(ctx, &request{method: http.MethodPut, route: "/v1/acl", path: path, node: true, query: q, body: body}, &out)
	return out, err
}

// WhoAmI returns the identities the server gives this client's requests:
// ip:<address> always, digest:<user>:<hash> for Config.User, x509:<DN>
// for a client certificate, super: for the super user.
func (c *Client) WhoAmI(ctx context.Context) (api.WhoAmI, error) {
	var out api.WhoAmI
	err := c.call(ctx, &request{method: http.MethodGet, route: "/v1/whoami", idempotent: true}, &out)
	return out, err
}

// aclQuery adds an ACL to a create's query: ?acl=scheme:id:perms, once
// per entry.
func aclQuery(q url.Values, acl []api.ACL) {
	for _, a := range acl {
		q.Add("acl", a.String())
	}
}
