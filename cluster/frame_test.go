package cluster

import (
	"bufio"
	"bytes"
	"testing"
)

// FuzzReadFrame: whatever a peer sends, readFrame returns a frame or an
// error without panicking, never reads a payload over the limit, and a
// frame it accepts encodes back to the bytes it consumed.
func FuzzReadFrame(f *testing.F) {
	f.Add(appendFrame(nil, frame{kind: framePropose, id: 7, arg: 500, payload: []byte("cmd")}))
	f.Add(appendFrame(nil, frame{kind: frameResult, id: 1, payload: []byte(`{"zxid":1}`)}))
	f.Add([]byte{0, 0, 0, 2, 1})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bufio.NewReader(bytes.NewReader(data))
		got, err := readFrame(r, 64)
		if err != nil {
			return
		}
		if len(got.payload) > 64 {
			t.Fatalf("payload of %d bytes over the limit of 64", len(got.payload))
		}
		enc := appendFrame(nil, got)
		if !bytes.HasPrefix(data, enc) {
			t.Fatalf("frame %+v encodes as %x, not the %x it came from", got, enc, data[:min(len(data), len(enc))])
		}
	})
}
