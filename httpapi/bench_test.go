package httpapi

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkServeGetData is one getData through the whole REST stack (the
// middleware, routing, the operation layer, a linearizable read on a
// single node), without the network: its allocations are the per-request
// cost the handlers control.
func BenchmarkServeGetData(b *testing.B) {
	for _, name := range []string{"linearizable", "stale"} {
		b.Run(name, func(b *testing.B) {
			_, s := newServer(b, 0)
			create := httptest.NewRequest("POST", "/v1/nodes/bench", nil)
			s.ServeHTTP(httptest.NewRecorder(), create)
			target := "/v1/nodes/bench"
			if name == "stale" {
				target += "?consistency=stale"
			}
			req := httptest.NewRequest("GET", target, nil)
			req.RemoteAddr = "127.0.0.1:40000"
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				w := httptest.NewRecorder()
				s.ServeHTTP(w, req)
				if w.Code != http.StatusOK {
					b.Fatalf("GET: %d %s", w.Code, w.Body)
				}
			}
		})
	}
}
