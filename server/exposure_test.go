package server

import (
	"strings"
	"testing"
)

// DESIGN §9: beyond loopback, an API without both TLS and authentication
// is warned of at start; on loopback nothing is.
func TestExposureWarningIsForNonLoopbackWithoutTLSAndAuth(t *testing.T) {
	for _, tc := range []struct {
		addr      string
		tls, auth bool
		want      string // in the warning; "" for none
	}{
		{"127.0.0.1:8900", false, false, ""},
		{"127.0.0.2:8900", false, false, ""},
		{"[::1]:8900", false, false, ""},
		{"localhost:8900", false, false, ""},
		{"0.0.0.0:8900", false, false, "WITHOUT TLS OR AUTHENTICATION"},
		{"[::]:8900", false, false, "WITHOUT TLS OR AUTHENTICATION"},
		{":8900", false, false, "WITHOUT TLS OR AUTHENTICATION"},
		{"10.0.0.1:8900", false, false, "WITHOUT TLS OR AUTHENTICATION"},
		{"canopy.example:8900", false, false, "WITHOUT TLS OR AUTHENTICATION"},
		{"10.0.0.1:8900", true, false, "WITHOUT AUTHENTICATION"},
		{"10.0.0.1:8900", false, true, "WITHOUT TLS:"},
		{"10.0.0.1:8900", true, true, ""},
		{"0.0.0.0:8900", true, true, ""},
		{":8900", true, true, ""},
	} {
		got := exposureWarning(tc.addr, tc.tls, tc.auth)
		if tc.want == "" && got != "" || tc.want != "" && !strings.Contains(got, tc.want) {
			t.Errorf("%s, TLS %v, auth %v: got %q, want %q", tc.addr, tc.tls, tc.auth, got, tc.want)
		}
	}
}
