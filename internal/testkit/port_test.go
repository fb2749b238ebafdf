package testkit

import (
	"net"
	"strconv"
	"testing"
)

func TestFreePortCanBeListenedOnBelowTheEphemeralRange(t *testing.T) {
	addr := FreePort(t)
	host, p, err := net.SplitHostPort(addr)
	if err != nil || host != "127.0.0.1" {
		t.Fatalf("got %q (%v), want 127.0.0.1:port", addr, err)
	}
	if lo := ephemeralLow(); lo > 12000 {
		if port, _ := strconv.Atoi(p); port >= lo {
			t.Errorf("got port %d, want one below the ephemeral range (from %d)", port, lo)
		}
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen on %s: %v", addr, err)
	}
	l.Close()
}
