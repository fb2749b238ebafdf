package httpapi

import (
	"net/netip"
	"testing"
	"time"

	"github.com/canopy-coord/canopy/api"
)

func TestClientRateIsPerAddressAndForgetsRefilledClients(t *testing.T) {
	l := NewClientLimits(0, 2, nil)
	for i, want := range []bool{true, true, false} {
		if err := l.Throttle("10.0.0.1:1000"); (err == nil) != want {
			t.Fatalf("request %d of 10.0.0.1: %v", i, err)
		} else if err != nil && err.Code != api.CodeThrottled {
			t.Fatalf("request %d of 10.0.0.1: %v, want Throttled", i, err)
		}
	}
	// Another port of the same address is the same client; another
	// address is another client.
	if err := l.Throttle("10.0.0.1:2000"); err == nil {
		t.Error("10.0.0.1 from another port was not throttled")
	}
	if err := l.Throttle("[::ffff:10.0.0.2]:1000"); err != nil {
		t.Errorf("10.0.0.2: %v", err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sweep(time.Now().Add(2 * time.Minute))
	if len(l.buckets) != 0 {
		t.Errorf("after a sweep with every bucket refilled, %d clients remembered", len(l.buckets))
	}
}

func TestClientAddresses(t *testing.T) {
	for in, want := range map[string]netip.Addr{
		"127.0.0.1:80":         netip.MustParseAddr("127.0.0.1"),
		"[::ffff:127.0.0.1]:1": netip.MustParseAddr("127.0.0.1"),
		"[::1]:443":            netip.MustParseAddr("::1"),
		"pipe":                 {},
	} {
		if got := clientOf(in); got != want {
			t.Errorf("clientOf(%q) = %v, want %v", in, got, want)
		}
	}
}
