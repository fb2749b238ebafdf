package httpapi

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/canopy-coord/canopy/api"
)

// badCase is one request that must be refused with status and code, leaving
// the tree and the sessions exactly as they were.
type badCase struct {
	name    string
	method  string
	path    string
	body    string
	chunked bool // send the body without a Content-Length
	headers map[string]string
	status  int
	code    api.Code
}

const unknownSession = "0xdeadbeef"

// invalidPaths are escaped node paths (after the route prefix and its
// slash) that DESIGN §3 rejects, with the rule each breaks.
var invalidPaths = []struct{ name, escaped string }{
	// An encoded slash is a separator (DESIGN §4): these break the rules
	// of segments, not of names.
	{"encoded slash at the end", "app/%2F"},
	{"encoded empty segment", "app%2F%2Fx"},
	{"encoded empty segment, lower case", "app/x%2f%2fy"},
	{"NUL", "a%00b"},
	{"U+0001", "app/%01"},
	{"U+001F", "%1F"},
	{"DEL", "a%7F"},
	{"U+0080", "a%C2%80"},
	{"U+009F", "a%C2%9F"},
	{"U+E000 (private use)", "a%EE%80%80"},
	{"U+F8FF", "a%EF%A3%BF"},
	{"U+FFF0", "a%EF%BF%B0"},
	{"U+FFFF", "a%EF%BF%BF"},
	{"U+1F600 (needs a surrogate pair)", "%F0%9F%98%80"},
	{"encoded surrogate", "a%ED%A0%80"},
	{"invalid UTF-8", "a%FF"},
	{"truncated UTF-8", "app/a%C3"},
	{"dot-dot", "app/.."},
	{"dot-dot alone", ".."},
	{"dot", "app/."},
	{"encoded dot-dot", "%2E%2E"},
	{"encoded dot", "app/%2e"},
	{"trailing slash", "app/"},
	{"empty segment", "app//child"},
	{"leading empty segment", "/app"},
	{"over 4 KiB", strings.Repeat("p", 4096)},
	{"over 4 KiB in segments", strings.Repeat("abcdefg/", 600) + "x"},
}

// pathRoutes are the routes that take a node path.
var pathRoutes = []struct{ method, prefix, query string }{
	{"POST", "/v1/nodes/", ""},
	{"GET", "/v1/nodes/", ""},
	{"HEAD", "/v1/nodes/", ""},
	{"PUT", "/v1/nodes/", ""},
	{"DELETE", "/v1/nodes/", ""},
	{"DELETE", "/v1/nodes/", "?recursive"},
	{"GET", "/v1/nodes/", "?raw"},
	{"GET", "/v1/stat/", ""},
	{"GET", "/v1/children/", ""},
	{"GET", "/v1/tree/", ""},
	{"POST", "/v1/sync/", ""},
	{"GET", "/v1/nodes/", "?consistency=stale"},
	{"GET", "/v1/children/", "?min_zxid=1"},
}

func badCases(session string) []badCase {
	var cases []badCase
	add := func(c badCase) { cases = append(cases, c) }
	bad := func(method, path, body string, h map[string]string) {
		add(badCase{method: method, path: path, body: body, headers: h, status: 400, code: api.CodeBadArguments})
	}
	withSession := hdr("Canopy-Session", session)

	// Invalid paths, on every route that takes one.
	for _, p := range invalidPaths {
		for _, r := range pathRoutes {
			add(badCase{name: r.method + " " + r.prefix + " " + p.name, method: r.method, path: r.prefix + p.escaped + r.query,
				status: 400, code: api.CodeBadArguments})
		}
	}
	// A sequential create validates the name with its suffix: these stay invalid.
	for _, p := range []string{"a%2F%2Fb/", "app/%00", "app//x", "app/%C3", "/x"} {
		bad("POST", "/v1/nodes/"+p+"?sequential", "", nil)
	}

	// Writes under /zookeeper.
	for _, r := range []struct{ method, path string }{
		{"POST", "zookeeper"},
		{"POST", "zookeeper/x"},
		{"POST", "zookeeper/config/x"},
		{"POST", "zookeeper/new/x?parents"},
		{"POST", "zookeeper/?sequential"},
		{"POST", "zookeeper/q-?sequential"},
		{"POST", "zookeeper/c?container"},
		{"POST", "zookeeper/t?ttl_ms=1000"},
		{"PUT", "zookeeper"},
		{"PUT", "zookeeper/config"},
		{"PUT", "zookeeper/quota?version=0"},
		{"DELETE", "zookeeper/config"},
		{"DELETE", "zookeeper/quota?version=0"},
		{"DELETE", "zookeeper?recursive"},
		{"DELETE", "zookeeper"},
	} {
		bad(r.method, "/v1/nodes/"+r.path, "data", nil)
	}
	bad("POST", "/v1/nodes/zookeeper/e?ephemeral", "", withSession)
	for _, op := range []string{
		`{"op":"create","path":"/zookeeper/x"}`,
		`{"op":"set","path":"/zookeeper","data":"x"}`,
		`{"op":"delete","path":"/zookeeper/quota"}`,
		`{"op":"create","path":"/zookeeper/","sequential":true}`,
	} {
		bad("POST", "/v1/multi", `{"ops":[{"op":"create","path":"/fresh"},`+op+`]}`, nil)
	}

	// Sizes: data over 1 MiB, bodies over 2 MiB.
	over := strings.Repeat("d", maxData+1)
	huge := strings.Repeat("h", 2<<20+1)
	tooLarge := func(method, path, body string, chunked bool) {
		add(badCase{method: method, path: path, body: body, chunked: chunked, status: 413, code: api.CodeTooLarge})
	}
	tooLarge("POST", "/v1/nodes/big", over, false)
	tooLarge("POST", "/v1/nodes/big", over, true)
	tooLarge("PUT", "/v1/nodes/app", over, false)
	tooLarge("PUT", "/v1/nodes/app?version=0", over, true)
	tooLarge("POST", "/v1/nodes/big", huge, false)
	tooLarge("PUT", "/v1/nodes/app", huge, true)
	tooLarge("POST", "/v1/multi", huge, false)
	tooLarge("POST", "/v1/multi", `{"ops":[{"op":"create","path":"/x","data":"`+huge+`"}]}`, true)
	tooLarge("POST", "/v1/sessions", huge, false)
	tooLarge("POST", "/v1/sessions", `{"timeout_ms":`+strings.Repeat("0", 2<<20)+`1}`, true)
	tooLarge("POST", "/v1/multi", `{"ops":[{"op":"create","path":"/fresh"},{"op":"create","path":"/x","data":"`+over+`"}]}`, false)
	tooLarge("POST", "/v1/multi", `{"ops":[{"op":"set","path":"/app","encoding":"base64","data":"`+
		strings.Repeat("AAAA", (maxData+3)/3)+`"}]}`, false)

	// The forwarding stream is only ever an upgrade.
	bad("GET", "/v1/internal/stream", "", nil)
	bad("GET", "/v1/internal/stream", "", hdr("Upgrade", "websocket"))

	// Multi bodies.
	for _, body := range []string{
		``, ` `, `{`, `[]`, `null`, `{}`, `"ops"`, `{"ops":null}`, `{"ops":{}}`, `{"ops":"x"}`, `{"ops":[1]}`, `{"ops":[null]}`,
		`{"ops":[{"op":"create","path":1}]}`,
		`{"ops":[{"op":"create","path":"/x","version":"1"}]}`,
		`{"ops":[{"op":"create","path":"/x","version":1.5}]}`,
		`{"ops":[{"op":"create","path":"/x","ephemeral":"yes"}]}`,
		`{"ops":[{"op":"create","path":"/x","ttl_ms":"5"}]}`,
		`{"ops":[{"op":"create","path":"/x","data":5}]}`,
		`{"ops":[{"op":"create","path":"/x","data":null,"bogus":1}]}`,
		`{"ops":[],"extra":1}`,
		`{"Ops":[{"op":"check","path":"/app"}]}`,
		`{"ops":[{"op":"check","PATH":"/app"}]}`,
		`{"ops":[]} {}`,
		`{"ops":[]}x`,
		`{"ops":[{"op":"create","path":"/x"}]`,
		"{\"ops\":[{\"op\":\"create\",\"path\":\"/x\xff\"}]}",
		`{"ops":[` + strings.Repeat(`{"op":"check","path":"/app"},`, 1000) + `{"op":"check","path":"/app"}]}`,
		`{"ops":[{"op":"get","path":"/app"}]}`,
		`{"ops":[{"op":"create","path":"/fresh"},{"op":"","path":"/app"}]}`,
		`{"ops":[{"op":"CREATE","path":"/x"}]}`,
		`{"ops":[{"op":"create"}]}`,
		`{"ops":[{"op":"create","path":""}]}`,
		`{"ops":[{"op":"create","path":"x"}]}`,
		`{"ops":[{"op":"create","path":"/a/"}]}`,
		`{"ops":[{"op":"create","path":"/fresh"},{"op":"check","path":"/app/"}]}`,
		`{"ops":[{"op":"check","path":"relative"}]}`,
		`{"ops":[{"op":"check","path":""}]}`,
		`{"ops":[{"op":"set","path":"/app/../x"}]}`,
		`{"ops":[{"op":"delete","path":"/app/./child"}]}`,
		`{"ops":[{"op":"delete","path":"/"}]}`,
		`{"ops":[{"op":"check","path":"/x\u0001"}]}`,
		`{"ops":[{"op":"check","path":"/x\ud800"}]}`,
		`{"ops":[{"op":"create","path":"/x\uffff"}]}`,
		`{"ops":[{"op":"create","path":"/x","data":"!!!","encoding":"base64"}]}`,
		`{"ops":[{"op":"create","path":"/x","data":"aGk","encoding":"base64"}]}`,
		`{"ops":[{"op":"create","path":"/x","data":"x","encoding":"hex"}]}`,
		`{"ops":[{"op":"set","path":"/app","version":2147483648}]}`,
		`{"ops":[{"op":"set","path":"/app","version":-2147483649}]}`,
		`{"ops":[{"op":"set","path":"/app","sequential":true}]}`,
		`{"ops":[{"op":"delete","path":"/app/child","ttl_ms":5}]}`,
		`{"ops":[{"op":"check","path":"/app","ephemeral":true}]}`,
		`{"ops":[{"op":"check","path":"/app","container":true}]}`,
		`{"ops":[{"op":"create","path":"/x","ttl_ms":-1}]}`,
		`{"ops":[{"op":"create","path":"/x","ttl_ms":1099511627776}]}`,
		`{"ops":[{"op":"create","path":"/x","container":true,"sequential":true}]}`,
		`{"ops":[{"op":"create","path":"/x","container":true,"ttl_ms":5}]}`,
		`{"ops":[{"op":"create","path":"/fresh"},{"op":"create","path":"/x","ephemeral":true}]}`,
	} {
		bad("POST", "/v1/multi", body, hdr("Content-Type", "application/json"))
	}
	bad("POST", "/v1/multi", `{"ops":[{"op":"create","path":"/x","container":true,"ephemeral":true}]}`, withSession)
	bad("POST", "/v1/multi", `{"ops":[{"op":"create","path":"/x","ttl_ms":5,"ephemeral":true}]}`, withSession)
	bad("POST", "/v1/multi", `{"ops":[{"op":"create","path":"/x"}]}`, hdr("Canopy-Session", "nope"))
	add(badCase{method: "POST", path: "/v1/multi", body: `{"ops":[{"op":"create","path":"/x","ephemeral":true}]}`,
		headers: hdr("Canopy-Session", unknownSession), status: 410, code: api.CodeSessionExpired})

	// Failures of the state machine: nothing half applied.
	for _, c := range []struct {
		ops    string
		status int
		code   api.Code
	}{
		{`{"op":"create","path":"/fresh"},{"op":"create","path":"/app"}`, 409, api.CodeNodeExists},
		{`{"op":"create","path":"/fresh"},{"op":"create","path":"/fresh"}`, 409, api.CodeNodeExists},
		{`{"op":"delete","path":"/app/child"},{"op":"delete","path":"/app"},{"op":"check","path":"/app"}`, 404, api.CodeNoNode},
		{`{"op":"set","path":"/app","data":"x"},{"op":"check","path":"/app","version":0}`, 412, api.CodeBadVersion},
		{`{"op":"check","path":"/app","version":-2}`, 412, api.CodeBadVersion},
		{`{"op":"set","path":"/app","version":5}`, 412, api.CodeBadVersion},
		{`{"op":"delete","path":"/app"}`, 409, api.CodeNotEmpty},
		{`{"op":"create","path":"/eph/x"}`, 409, api.CodeNoChildrenForEphemerals},
		{`{"op":"create","path":"/missing/x"}`, 404, api.CodeNoNode},
	} {
		add(badCase{method: "POST", path: "/v1/multi", body: `{"ops":[` + c.ops + `]}`, status: c.status, code: c.code})
	}

	// Query parameters: unknown, repeated, from another route, malformed.
	for _, r := range [][2]string{
		{"POST", "/v1/nodes/new?bogus"}, {"GET", "/v1/nodes/app?bogus=1"}, {"HEAD", "/v1/nodes/app?bogus"},
		{"PUT", "/v1/nodes/app?bogus"}, {"DELETE", "/v1/nodes/app/child?bogus"}, {"GET", "/v1/stat/app?bogus"},
		{"GET", "/v1/children/app?bogus"}, {"GET", "/v1/tree/app?bogus"}, {"POST", "/v1/sync/app?bogus"},
		{"POST", "/v1/multi?bogus"}, {"POST", "/v1/sessions?bogus"}, {"GET", "/v1/sessions?bogus"},
		{"GET", "/v1/sessions/" + session + "?bogus"}, {"DELETE", "/v1/sessions/" + session + "?bogus"},
		{"POST", "/v1/sessions/" + session + "/keepalive?bogus"}, {"GET", "/v1/status?bogus"},
		{"GET", "/v1/nodes/?bogus"}, {"GET", "/v1/nodes?bogus"}, {"GET", "/v1/stat?bogus"}, {"POST", "/v1/sync?bogus"},
		{"GET", "/v1/nodes/app?Raw"}, {"GET", "/v1/nodes/app?raw&raw"}, {"PUT", "/v1/nodes/app?version=0&version=0"},
		{"GET", "/v1/children/app?limit=1&limit=2"}, {"POST", "/v1/nodes/new?ephemeral=0&ephemeral=0"},
		{"GET", "/v1/nodes/app?version=0"}, {"PUT", "/v1/nodes/app?raw"}, {"PUT", "/v1/nodes/app?sequential"},
		{"DELETE", "/v1/nodes/app/child?parents"}, {"POST", "/v1/nodes/new?recursive"}, {"POST", "/v1/nodes/new?version=0"},
		{"GET", "/v1/stat/app?raw"}, {"GET", "/v1/stat/app?encoding=base64"}, {"GET", "/v1/tree/app?after=a"},
		{"GET", "/v1/tree/app?stat"}, {"GET", "/v1/children/app?depth=1"}, {"POST", "/v1/sync/app?consistency=stale"},
		{"PUT", "/v1/nodes/app?consistency=stale"}, {"DELETE", "/v1/nodes/app/child?min_zxid=1"},
		{"GET", "/v1/nodes/app?a=%zz"}, {"PUT", "/v1/nodes/app?version=%zz"}, {"GET", "/v1/nodes/app?raw;x"},
	} {
		bad(r[0], r[1], "x", nil)
	}
	// Values: flags, numbers, enums.
	for _, r := range [][2]string{
		{"POST", "/v1/nodes/new?ephemeral=yes"}, {"POST", "/v1/nodes/new?ephemeral=on"}, {"POST", "/v1/nodes/new?sequential=2"},
		{"POST", "/v1/nodes/new?container=TRUE"}, {"POST", "/v1/nodes/new?parents=no"}, {"POST", "/v1/nodes/new?sequential=%20"},
		{"DELETE", "/v1/nodes/app?recursive=yes"}, {"GET", "/v1/nodes/app?raw=x"}, {"GET", "/v1/children/app?stat=2"},
		{"HEAD", "/v1/nodes/app?consistency=x"},
		{"GET", "/v1/nodes/app?encoding=hex"}, {"GET", "/v1/nodes/app?encoding=BASE64"}, {"GET", "/v1/nodes/app?encoding="},
		{"GET", "/v1/nodes/app?consistency=eventual"}, {"GET", "/v1/nodes/app?consistency="},
		{"GET", "/v1/stat/app?consistency=STALE"},
		{"GET", "/v1/nodes/app?min_zxid=-1"}, {"GET", "/v1/nodes/app?min_zxid=abc"}, {"GET", "/v1/stat/app?min_zxid=1.5"},
		{"GET", "/v1/tree/app?min_zxid=99999999999999999999"}, {"GET", "/v1/nodes/app?min_zxid="},
		{"GET", "/v1/nodes/app?timeout_ms=0"}, {"GET", "/v1/nodes/app?timeout_ms=-1"}, {"GET", "/v1/children/app?timeout_ms=abc"},
		{"GET", "/v1/nodes/app?min_zxid=1&timeout_ms=600001"},
		{"GET", "/v1/children/app?limit=0"}, {"GET", "/v1/children/app?limit=-1"}, {"GET", "/v1/children/app?limit=100001"},
		{"GET", "/v1/children/app?limit=abc"}, {"GET", "/v1/children/app?limit="}, {"GET", "/v1/children/app?limit=1.0"},
		{"GET", "/v1/tree/app?depth=-1"}, {"GET", "/v1/tree/app?depth=1001"}, {"GET", "/v1/tree/app?depth=x"},
		{"GET", "/v1/tree/app?limit=0"}, {"GET", "/v1/tree/app?limit=abc"}, {"GET", "/v1/tree/?limit=-5"},
		{"POST", "/v1/nodes/new?ttl_ms=0"}, {"POST", "/v1/nodes/new?ttl_ms=-1"}, {"POST", "/v1/nodes/new?ttl_ms=1099511627776"},
		{"POST", "/v1/nodes/new?ttl_ms=abc"}, {"POST", "/v1/nodes/new?ttl_ms=1.5"}, {"POST", "/v1/nodes/new?ttl_ms="},
		{"POST", "/v1/nodes/new?container&sequential"}, {"POST", "/v1/nodes/new?container&ttl_ms=100"},
		{"POST", "/v1/nodes/app/?container&sequential"},
	} {
		bad(r[0], r[1], "", nil)
	}
	bad("POST", "/v1/nodes/new?container&ephemeral", "", withSession)
	bad("POST", "/v1/nodes/new?ephemeral&ttl_ms=100", "", withSession)
	bad("POST", "/v1/nodes/new?ephemeral&sequential&container", "", withSession)

	// Versions.
	for _, r := range []struct {
		method, path string
		h            map[string]string
	}{
		{"PUT", "/v1/nodes/app?version=abc", nil},
		{"PUT", "/v1/nodes/app?version=1.5", nil},
		{"PUT", "/v1/nodes/app?version=2147483648", nil},
		{"PUT", "/v1/nodes/app?version=-2147483649", nil},
		{"PUT", "/v1/nodes/app?version=", nil},
		{"PUT", "/v1/nodes/app?version=0x1", nil},
		{"PUT", "/v1/nodes/app?version=%200", nil},
		{"DELETE", "/v1/nodes/app/child?version=x", nil},
		{"DELETE", "/v1/nodes/app/child?version=99999999999", nil},
		{"PUT", "/v1/nodes/app", hdr("If-Match", `"abc"`)},
		{"PUT", "/v1/nodes/app", hdr("If-Match", `W/"0"`)},
		{"PUT", "/v1/nodes/app", hdr("If-Match", `"1.5"`)},
		{"PUT", "/v1/nodes/app", hdr("If-Match", `"2147483648"`)},
		{"DELETE", "/v1/nodes/app/child", hdr("If-Match", `"0", "1"`)},
		// ?version and If-Match that disagree.
		{"PUT", "/v1/nodes/app?version=0", hdr("If-Match", `"1"`)},
		{"PUT", "/v1/nodes/app?version=0", hdr("If-Match", `*`)},
		{"DELETE", "/v1/nodes/app/child?version=0", hdr("If-Match", `"1"`)},
	} {
		bad(r.method, r.path, "x", r.h)
	}
	badVersion := func(method, path string, h map[string]string) {
		add(badCase{method: method, path: path, body: "x", headers: h, status: 412, code: api.CodeBadVersion})
	}
	badVersion("PUT", "/v1/nodes/app?version=-2", nil)
	badVersion("PUT", "/v1/nodes/app?version=-2147483648", nil)
	badVersion("PUT", "/v1/nodes/app?version=5", nil)
	badVersion("PUT", "/v1/nodes/app?version=2147483647", nil)
	badVersion("PUT", "/v1/nodes/app", hdr("If-Match", `"-2"`))
	badVersion("PUT", "/v1/nodes/app", hdr("If-Match", `7`))
	badVersion("PUT", "/v1/nodes/app?version=7", hdr("If-Match", `"7"`))
	badVersion("DELETE", "/v1/nodes/app/child?version=-2", nil)
	badVersion("DELETE", "/v1/nodes/app/child?version=3", nil)
	badVersion("DELETE", "/v1/nodes/app?recursive&version=-2", nil)
	badVersion("DELETE", "/v1/nodes/app/child", hdr("If-Match", `"1"`))

	// Sessions: the header and the routes.
	for _, h := range []string{"xyz", "0x", "0x0", "0", "0x12345678901234567", "-1", "0xg1", "0x 1", "0x1/2"} {
		for _, r := range [][2]string{
			{"POST", "/v1/nodes/new?ephemeral"}, {"POST", "/v1/nodes/new"}, {"GET", "/v1/nodes/app"},
			{"PUT", "/v1/nodes/app"}, {"DELETE", "/v1/nodes/app/child"}, {"POST", "/v1/multi"},
		} {
			body := ""
			if r[1] == "/v1/multi" {
				body = `{"ops":[{"op":"create","path":"/x"}]}`
			}
			bad(r[0], r[1], body, hdr("Canopy-Session", h))
		}
	}
	bad("POST", "/v1/nodes/new?ephemeral", "", nil)
	bad("POST", "/v1/nodes/new?ephemeral=1&sequential", "", nil)
	bad("POST", "/v1/nodes/new/?ephemeral&sequential&parents", "", nil)
	expired := func(method, path, body string, h map[string]string) {
		add(badCase{method: method, path: path, body: body, headers: h, status: 410, code: api.CodeSessionExpired})
	}
	withUnknown := hdr("Canopy-Session", unknownSession)
	expired("POST", "/v1/nodes/new?ephemeral", "", withUnknown)
	expired("POST", "/v1/nodes/new?ephemeral&sequential", "", withUnknown)
	expired("POST", "/v1/nodes/new", "", withUnknown)
	expired("PUT", "/v1/nodes/app", "x", withUnknown)
	expired("DELETE", "/v1/nodes/app/child", "", withUnknown)
	expired("GET", "/v1/nodes/app", "", withUnknown)
	expired("GET", "/v1/sessions/"+unknownSession, "", nil)
	expired("DELETE", "/v1/sessions/"+unknownSession, "", nil)
	expired("POST", "/v1/sessions/"+unknownSession+"/keepalive", "", nil)
	for _, id := range []string{"zzz", "0x0", "0", "0x", "0x12345678901234567", "-1", "0x1g"} {
		bad("GET", "/v1/sessions/"+id, "", nil)
		bad("DELETE", "/v1/sessions/"+id, "", nil)
		bad("POST", "/v1/sessions/"+id+"/keepalive", "", nil)
	}
	for _, body := range []string{
		`{"timeout_ms":"x"}`, `{"timeout_ms":-5}`, `{"timeout_ms":1.5}`, `{"timeout_ms":1e3}`, `{"timeout_ms":null,"x":1}`,
		`null`, `{"bogus":1}`, `[`, `[]`, `"x"`, `5`, `{"timeout_ms":1}{"timeout_ms":2}`, `{"timeout_ms":99999999999999999999}`,
	} {
		bad("POST", "/v1/sessions", body, hdr("Content-Type", "application/json"))
	}

	// State machine refusals.
	for _, c := range []struct {
		method, path string
		h            map[string]string
		status       int
		code         api.Code
	}{
		{"POST", "/v1/nodes/app", nil, 409, api.CodeNodeExists},
		{"POST", "/v1/nodes/app/child?parents", nil, 409, api.CodeNodeExists},
		{"POST", "/v1/nodes/", nil, 409, api.CodeNodeExists},
		{"POST", "/v1/nodes", nil, 409, api.CodeNodeExists},
		{"POST", "/v1/nodes/missing/x", nil, 404, api.CodeNoNode},
		{"POST", "/v1/nodes/missing/x?sequential", nil, 404, api.CodeNoNode},
		{"POST", "/v1/nodes/eph/x", nil, 409, api.CodeNoChildrenForEphemerals},
		{"POST", "/v1/nodes/eph/x/y?parents", nil, 409, api.CodeNoChildrenForEphemerals},
		{"POST", "/v1/nodes/eph/x?ephemeral", hdr("Canopy-Session", session), 409, api.CodeNoChildrenForEphemerals},
		{"PUT", "/v1/nodes/missing", nil, 404, api.CodeNoNode},
		{"DELETE", "/v1/nodes/missing", nil, 404, api.CodeNoNode},
		{"DELETE", "/v1/nodes/missing?recursive", nil, 404, api.CodeNoNode},
		{"DELETE", "/v1/nodes/app", nil, 409, api.CodeNotEmpty},
		{"DELETE", "/v1/nodes/", nil, 400, api.CodeBadArguments},
		{"DELETE", "/v1/nodes/?recursive", nil, 400, api.CodeBadArguments},
		{"DELETE", "/v1/nodes", nil, 400, api.CodeBadArguments},
		{"GET", "/v1/nodes/missing", nil, 404, api.CodeNoNode},
		{"GET", "/v1/nodes/missing?raw", nil, 404, api.CodeNoNode},
		{"HEAD", "/v1/nodes/missing", nil, 404, ""},
		{"GET", "/v1/stat/missing", nil, 404, api.CodeNoNode},
		{"GET", "/v1/children/missing", nil, 404, api.CodeNoNode},
		{"GET", "/v1/tree/missing", nil, 404, api.CodeNoNode},
	} {
		add(badCase{method: c.method, path: c.path, body: "x", headers: c.h, status: c.status, code: c.code})
	}

	// Routes: unknown ones and wrong methods.
	for _, p := range []string{"/nope", "/v2/nodes/app", "/v1", "/v1/", "/v1/nope", "/v1/sessions/" + session + "/nope",
		"/v1/multi/extra", "/v1/statusx", "/v1/nodesx/app", "/healthz/x", "/metrics/x", "/ui/missing.js", "/openapi.json"} {
		add(badCase{method: "GET", path: p, status: 404, code: api.CodeNotFound})
	}
	for _, r := range [][2]string{
		{"PATCH", "/v1/nodes/app"}, {"OPTIONS", "/v1/nodes/app"}, {"PATCH", "/v1/nodes/"}, {"DELETE", "/v1/stat/app"},
		{"HEAD", "/v1/stat/app"}, {"PUT", "/v1/children/app"}, {"POST", "/v1/tree/app"}, {"GET", "/v1/sync/app"},
		{"DELETE", "/v1/sync/"}, {"GET", "/v1/multi"}, {"PUT", "/v1/multi"}, {"PUT", "/v1/sessions"}, {"DELETE", "/v1/sessions"},
		{"POST", "/v1/sessions/" + session}, {"PUT", "/v1/sessions/" + session}, {"GET", "/v1/sessions/" + session + "/keepalive"},
		{"POST", "/v1/status"}, {"POST", "/healthz"}, {"DELETE", "/readyz"}, {"POST", "/openapi.yaml"},
		{"POST", "/ui/"}, {"POST", "/metrics"}, {"DELETE", "/metrics"},
	} {
		c := badCase{method: r[0], path: r[1], status: 405, code: api.CodeMethodNotAllowed}
		if r[0] == "HEAD" {
			c.code = ""
		}
		add(c)
	}
	for i := range cases {
		if cases[i].method == http.MethodHead {
			cases[i].code = "" // no body, no code
		}
		if cases[i].name == "" {
			cases[i].name = cases[i].method + " " + shorten(cases[i].path)
			if cases[i].body != "" {
				cases[i].name += " " + shorten(cases[i].body)
			}
			for k, v := range cases[i].headers {
				cases[i].name += " " + k + ":" + v
			}
		}
	}
	return cases
}

func shorten(s string) string {
	if len(s) > 60 {
		return fmt.Sprintf("%s…(%d bytes)", s[:40], len(s))
	}
	return s
}

// TestBadInputIsRefusedAndChangesNothing sends every kind of bad input of
// DESIGN §4 and checks the status, the error code, and that the tree and
// the sessions are exactly as before.
func TestBadInputIsRefusedAndChangesNothing(t *testing.T) {
	t.Parallel()
	n := startNode(t)
	sess := n.openSession(60000)
	n.create("/app", "v0")
	n.create("/app/child", "c")
	n.expect(n.do("POST", "/v1/nodes/eph?ephemeral", "e", hdr("Canopy-Session", sess.String())), http.StatusCreated)
	before := n.state()

	for _, c := range badCases(sess.String()) {
		t.Run(c.name, func(t *testing.T) {
			cl := *n.client
			cl.t = t
			var r *reply
			if c.chunked {
				// A reader that is not a *strings.Reader has no known length.
				r = cl.doReader(c.method, c.path, io.MultiReader(strings.NewReader(c.body)), -1, c.headers)
			} else {
				r = cl.do(c.method, c.path, c.body, c.headers)
			}
			if r.status != c.status {
				t.Errorf("status %d, want %d; body %s", r.status, c.status, truncate(r.body))
			}
			if c.code != "" && r.errorCode() != c.code {
				t.Errorf("code %q, want %s; body %s", r.errorCode(), c.code, truncate(r.body))
			}
			if after := cl.state(); after != before {
				t.Errorf("the request changed the state:\nbefore:\n%s\nafter:\n%s", before, after)
				before = after // so that the next cases are judged on their own
			}
		})
	}
}
