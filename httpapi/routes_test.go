package httpapi

import (
	"net/http"
	"sort"
	"strings"
	"testing"

	"github.com/canopy-coord/canopy/service"
	"github.com/go-chi/chi/v5"
)

// chiRoutes walks the server's router: "METHOD pattern" for every route.
func chiRoutes(t *testing.T, s *Server) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	err := chi.Walk(s.router, func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		out[method+" "+route] = true
		return nil
	})
	if err != nil {
		t.Fatalf("chi.Walk: %v", err)
	}
	return out
}

// specRoutes lists openapi.yaml's operations as "METHOD path".
func specRoutes(t *testing.T) map[string]bool {
	t.Helper()
	doc, err := spec()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			out[method+" "+path] = true
		}
	}
	return out
}

// specNameOf is the openapi.yaml route a chi route serves: a trailing /*
// is a {path}, and the documented aliases map to their documented spelling.
// ok is false for the UI's redirects, which are not API routes.
func specNameOf(method, route string) (name string, ok bool) {
	if method+" "+route == "GET /" || method+" "+route == "GET /ui" {
		return "", false // redirects to /ui/
	}
	if route == "/ui/*" {
		return method + " /ui/", true
	}
	if p, found := strings.CutSuffix(route, "/*"); found {
		return method + " " + p + "/{path}", true
	}
	if alias, found := rootAliases[route]; found {
		return method + " " + alias, true
	}
	return method + " " + route, true
}

// TestEveryRouteIsInOpenAPI walks chi's routes and openapi.yaml's paths and
// holds each to the other: nothing served undocumented, nothing documented
// unserved.
func TestEveryRouteIsInOpenAPI(t *testing.T) {
	// Wired as cmd/canopy wires it: the UI, and the watch endpoints that
	// wsnotify serves (stubs here: only their routes matter).
	stub := func(w http.ResponseWriter, r *http.Request) {}
	_, s := newServer(t, 0, func(c *Config, _ *service.Limits) {
		c.Watch, c.Events, c.WatchCount = stub, stub, func() int { return 0 }
	})
	served := chiRoutes(t, s)
	documented := specRoutes(t)

	var routes []string
	for r := range served {
		routes = append(routes, r)
	}
	sort.Strings(routes)
	servedAs := map[string]bool{}
	for _, r := range routes {
		method, route, _ := strings.Cut(r, " ")
		name, ok := specNameOf(method, route)
		if !ok {
			continue
		}
		servedAs[name] = true
		// A wildcard also serves the prefix itself: /v1/stat/* answers /v1/stat/.
		if p, found := strings.CutSuffix(route, "/*"); found && route != "/ui/*" {
			servedAs[method+" "+p+"/"] = true
		}
		if !documented[name] {
			t.Errorf("chi route %s %s is not in openapi.yaml (looked for %s)", method, route, name)
		}
	}
	var missing []string
	for name := range documented {
		if !servedAs[name] {
			missing = append(missing, name)
		}
	}
	sort.Strings(missing)
	for _, name := range missing {
		t.Errorf("openapi.yaml documents %s, which the router does not serve", name)
	}
}

// TestRootAliasesServeTheRoot checks the documented aliases on a live node:
// /v1/stat is /v1/stat/, and so on.
func TestRootAliasesServeTheRoot(t *testing.T) {
	t.Parallel()
	n := startNode(t)
	for _, c := range []struct{ method, short, long string }{
		{"GET", "/v1/nodes", "/v1/nodes/"},
		{"HEAD", "/v1/nodes", "/v1/nodes/"},
		{"GET", "/v1/stat", "/v1/stat/"},
		{"GET", "/v1/children", "/v1/children/"},
		{"GET", "/v1/tree", "/v1/tree/"},
		{"GET", "/v1/sessions/", "/v1/sessions"},
	} {
		a := n.expect(n.do(c.method, c.short, "", nil), http.StatusOK)
		b := n.expect(n.do(c.method, c.long, "", nil), http.StatusOK)
		if string(a.body) != string(b.body) {
			t.Errorf("%s %s = %s, %s = %s", c.method, c.short, a.body, c.long, b.body)
		}
	}
	n.expect(n.do("POST", "/v1/sync", "", nil), http.StatusOK)
	r := n.expect(n.do("POST", "/v1/nodes?sequential", "x", nil), http.StatusCreated)
	if loc := r.header.Get("Location"); !strings.HasPrefix(loc, "/v1/nodes/0000") {
		t.Errorf("POST /v1/nodes?sequential: Location %q", loc)
	}
}
