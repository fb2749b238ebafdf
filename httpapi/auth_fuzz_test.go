package httpapi

import (
	"encoding/base64"
	"strings"
	"testing"
)

// FuzzParseBasic: parseBasic never panics, and what it accepts is Basic
// credentials: a scheme named Basic in any case, a token that is standard
// base64 of user:password with a user holding no colon (an empty user
// is one, as in ZooKeeper), and re-encoding them parses back to the same
// pair.
func FuzzParseBasic(f *testing.F) {
	enc := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }
	for _, h := range []string{
		"Basic " + enc("alice:alice-pw"),
		"basic " + enc("alice:alice-pw"),
		"BASIC " + enc("alice:"),
		"Basic " + enc("alice:p:w"),
		"Basic " + enc(":pw"),
		"Basic " + enc("nocolon"),
		"Basic " + enc("ünï:cödé"),
		"Basic " + enc("a\x00b:\xff\xfe"),
		"Basic  " + enc("two:spaces") + "  ",
		"Basic\t" + enc("tab:sep"),
		"Basic " + strings.TrimRight(enc("unpadded:x"), "="),
		"Basic !!!",
		"Basic",
		"Basic ",
		"Bearer abc",
		"Digest username=alice",
		"",
		" ",
		"Basic " + enc("a:b") + " extra",
		"Basic " + base64.URLEncoding.EncodeToString([]byte("url?safe>>:~~~")),
	} {
		f.Add(h)
	}
	f.Fuzz(func(t *testing.T, h string) {
		user, password, ok := parseBasic(h)
		if !ok {
			if user != "" || password != "" {
				t.Fatalf("parseBasic(%q) refused it but returned %q, %q", h, user, password)
			}
			return
		}
		if strings.Contains(user, ":") {
			t.Fatalf("parseBasic(%q) accepted user %q", h, user)
		}
		scheme, token, found := strings.Cut(h, " ")
		if !found || !strings.EqualFold(scheme, "Basic") {
			t.Fatalf("parseBasic(%q) accepted the scheme %q", h, scheme)
		}
		raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(token))
		if err != nil || string(raw) != user+":"+password {
			t.Fatalf("parseBasic(%q) = %q, %q: not what the token decodes to (%q, %v)", h, user, password, raw, err)
		}
		again := "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+password))
		u2, p2, ok2 := parseBasic(again)
		if !ok2 || u2 != user || p2 != password {
			t.Fatalf("re-encoded %q parses as %q, %q, %v; want %q, %q", again, u2, p2, ok2, user, password)
		}
	})
}
