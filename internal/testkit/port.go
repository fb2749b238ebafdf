package testkit

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"testing"
)

// FreePort returns a loopback address ("127.0.0.1:port") that is free now,
// and fails t when there is none.
func FreePort(t testing.TB) string {
	t.Helper()
	addr, err := PickFreePort()
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	return addr
}

// PickFreePort is FreePort for code that has no test to fail (a TestMain).
// It picks below the kernel's ephemeral port range when it can: tests open
// many client connections, whose local ports come from that range and
// could take a port between this check and the server's bind (or its
// restart).
func PickFreePort() (string, error) {
	if lo := ephemeralLow(); lo > 12000 {
		for i := 0; i < 100; i++ {
			addr := fmt.Sprintf("127.0.0.1:%d", 10000+rand.IntN(lo-10000))
			if l, err := net.Listen("tcp", addr); err == nil {
				l.Close()
				return addr, nil
			}
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// ephemeralLow is the first port of Linux's ephemeral range, 0 if unknown.
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 0
	}
	var lo, hi int
	if _, err := fmt.Sscan(string(b), &lo, &hi); err != nil {
		return 0
	}
	return lo
}
