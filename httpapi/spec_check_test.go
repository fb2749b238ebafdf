package httpapi

import (
	"context"
	"crypto/sha256"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"

	canopy "github.com/canopy-coord/canopy"
)

func init() {
	// kin-openapi decodes no HTML; the UI's page is checked as text.
	openapi3filter.RegisterBodyDecoder("text/html", openapi3filter.PlainBodyDecoder)
}

// spec is openapi.yaml, loaded and validated once per test binary.
var spec = sync.OnceValues(func() (*openapi3.T, error) {
	doc, err := openapi3.NewLoader().LoadFromData(canopy.OpenAPI)
	if err != nil {
		return nil, fmt.Errorf("load openapi.yaml: %w", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("validate openapi.yaml: %w", err)
	}
	return doc, nil
})

// rootAliases are the routes the server answers that openapi.yaml documents
// under another spelling: each /v1 path route without a trailing path is the
// root's route, and the sessions collection answers with a trailing slash too.
var rootAliases = map[string]string{
	"/v1/nodes":     "/v1/nodes/",
	"/v1/stat":      "/v1/stat/",
	"/v1/children":  "/v1/children/",
	"/v1/tree":      "/v1/tree/",
	"/v1/sync":      "/v1/sync/",
	"/v1/acl":       "/v1/acl/",
	"/v1/sessions/": "/v1/sessions",
}

// uiRedirects are the UI's convenience redirects: not API routes, so not in
// openapi.yaml; they answer 3xx to /ui/.
var uiRedirects = map[string]bool{"/": true, "/ui": true}

// matchTemplate matches an escaped URL path against an openapi.yaml path. A
// trailing {path} takes the rest of the URL, slashes included (kin's routers
// cannot do that); any other {param} takes one non-empty segment.
func matchTemplate(tmpl, path string) (map[string]string, bool) {
	if prefix, ok := strings.CutSuffix(tmpl, "{path}"); ok {
		rest, ok := strings.CutPrefix(path, prefix)
		if !ok || rest == "" {
			return nil, false
		}
		return map[string]string{"path": rest}, true
	}
	ts, ps := strings.Split(tmpl, "/"), strings.Split(path, "/")
	if len(ts) != len(ps) {
		return nil, false
	}
	params := map[string]string{}
	for i := range ts {
		if strings.HasPrefix(ts[i], "{") && strings.HasSuffix(ts[i], "}") {
			if ps[i] == "" {
				return nil, false
			}
			params[ts[i][1:len(ts[i])-1]] = ps[i]
			continue
		}
		if ts[i] != ps[i] {
			return nil, false
		}
	}
	return params, true
}

// findRoute finds the operation of openapi.yaml that a request addresses.
// A path it does not know, or a method its path does not have, gets a
// synthetic operation whose answers are the documented NotFound and
// MethodNotAllowed (and TooLarge: the body limit applies before routing).
func findRoute(doc *openapi3.T, method, path string) (*routers.Route, map[string]string) {
	if alias, ok := rootAliases[path]; ok {
		path = alias
	}
	var (
		tmpl   string
		item   *openapi3.PathItem
		params map[string]string
	)
	if it := doc.Paths.Value(path); it != nil {
		tmpl, item, params = path, it, map[string]string{}
	} else {
		for t, it := range doc.Paths.Map() {
			if p, ok := matchTemplate(t, path); ok {
				tmpl, item, params = t, it, p
				break
			}
		}
	}
	if item != nil {
		if op := item.GetOperation(method); op != nil {
			return &routers.Route{Spec: doc, Path: tmpl, PathItem: item, Method: method, Operation: op}, params
		}
	}
	status, name := "404", "NotFound"
	if item != nil {
		status, name = "405", "MethodNotAllowed"
	}
	responses := openapi3.NewResponses()
	responses.Delete("default")
	responses.Set(status, doc.Components.Responses[name])
	responses.Set("413", doc.Components.Responses["TooLarge"])
	op := &openapi3.Operation{OperationID: "unrouted" + name, Responses: responses}
	return &routers.Route{Spec: doc, Path: path, PathItem: &openapi3.PathItem{}, Method: method, Operation: op}, params
}

// validated remembers the exchanges already found valid. kin compiles a JSON
// Schema validator on every call, and the tests get the same answer many
// times over (the state dumps of the bad-input test): an exchange identical
// to a valid one, but for the headers that vary on every response, is valid.
var validated sync.Map

// varyingHeaders change on every response; Canopy-Zxid is checked by
// checkReply on each one.
var varyingHeaders = map[string]bool{"Canopy-Zxid": true, "Date": true, "X-Request-Id": true}

func exchangeKey(method, route string, r *reply) [32]byte {
	h := sha256.New()
	fmt.Fprintf(h, "%s %s %d\n", method, route, r.status)
	keys := make([]string, 0, len(r.header))
	for k := range r.header {
		if !varyingHeaders[k] {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(h, "%s: %q\n", k, r.header[k])
	}
	h.Write(r.body)
	var sum [32]byte
	h.Sum(sum[:0])
	return sum
}

// validateResponse checks one exchange against openapi.yaml.
func validateResponse(req *http.Request, r *reply) error {
	doc, err := spec()
	if err != nil {
		return err
	}
	path := req.URL.EscapedPath()
	if uiRedirects[path] && r.status >= 300 && r.status < 400 {
		return nil
	}
	route, params := findRoute(doc, req.Method, path)
	key := exchangeKey(req.Method, route.Path, r)
	if _, ok := validated.Load(key); ok {
		return nil
	}
	reqIn := &openapi3filter.RequestValidationInput{
		Request:    req,
		PathParams: params,
		Route:      route,
		Options:    &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc},
	}
	opts := &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true}
	if req.Method == http.MethodHead {
		// kin skips every HEAD response: check it as a GET, but against the
		// HEAD operation, and without a body.
		get := req.Clone(req.Context())
		get.Method = http.MethodGet
		reqIn.Request = get
		opts.ExcludeResponseBody = true
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: reqIn,
		Status:                 r.status,
		Header:                 r.header,
		Options:                opts,
	}
	in.SetBodyBytes(r.body)
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		// kin's errors quote the whole schema and value: keep the reason.
		msg := err.Error()
		if len(msg) > 1500 {
			msg = msg[:1500] + "…"
		}
		return fmt.Errorf("openapi.yaml (%s %s): %s", req.Method, route.Path, msg)
	}
	validated.Store(key, struct{}{})
	return nil
}
