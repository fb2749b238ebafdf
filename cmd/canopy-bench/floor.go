package main

import (
	"context"
	"net"
	"net/http"
	"time"
)

// floorBody is what the floor server answers: about the size of a small
// getData answer.
var floorBody = []byte(`{"path":"/bench/floor","data":"hello","encoding":"utf8","stat":{"czxid":1,"mzxid":1,"pzxid":1,"ctime":0,"mtime":0,"version":0,"cversion":0,"aversion":0,"ephemeralOwner":"0x0","dataLength":5,"numChildren":0}}` + "\n")

// floorServer is a trivial net/http server in this process: loading it
// measures the HTTP floor of the machine (client, loopback and server cost
// with no work behind them).
type floorServer struct {
	srv *http.Server
	url string
	ln  net.Listener
}

func floorHandler(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Canopy-Zxid", "1")
	_, _ = w.Write(floorBody)
}

func startFloor() (*floorServer, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Handler: http.HandlerFunc(floorHandler), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return &floorServer{srv: srv, url: "http://" + ln.Addr().String(), ln: ln}, nil
}

func (f *floorServer) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := f.srv.Shutdown(ctx); err != nil {
		_ = f.srv.Close()
	}
}
