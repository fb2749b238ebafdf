package cluster

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// The forwarding stream (GET /v1/internal/stream, upgraded) carries a
// follower's proposals and read-index requests to the leader and the
// leader's answers back, many in flight at once over one connection. Each
// frame is
//
//	length  uint32  bytes that follow
//	kind    uint8   frameKind
//	id      uint64  the request's number, echoed by its answer
//	arg     uint32  requests: their timeout in ms; answers: 0
//	payload         propose: an encoded fsm command; read index: none;
//	                result: JSON ProposeResult or ReadIndexResult; error:
//	                JSON api.Error
//
// all big-endian. Frames are written back to back and flushed when the
// writer has nothing more queued, so a busy stream carries many frames per
// system call: that, not the encoding, is what makes it cheaper than one
// HTTP request per write.
const (
	// StreamProtocol is the Upgrade token of the forwarding stream.
	StreamProtocol = "canopy-forward/1"
	// StreamPath is where the leader serves it.
	StreamPath = "/v1/internal/stream"

	frameHeader = 1 + 8 + 4
)

type frameKind uint8

const (
	framePropose   frameKind = 1
	frameResult    frameKind = 2
	frameError     frameKind = 3
	frameReadIndex frameKind = 4
)

// request reports whether f is one a follower sends.
func (k frameKind) request() bool { return k == framePropose || k == frameReadIndex }

// String names a request kind, for metrics and logs.
func (k frameKind) String() string {
	switch k {
	case framePropose:
		return "propose"
	case frameReadIndex:
		return "readindex"
	}
	return fmt.Sprintf("kind %d", uint8(k))
}

type frame struct {
	kind    frameKind
	id      uint64
	arg     uint32
	payload []byte
}

var errFrameTooLarge = errors.New("forwarding stream: frame over the size limit")

// appendFrame appends f's wire form to b.
func appendFrame(b []byte, f frame) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(frameHeader+len(f.payload)))
	b = append(b, byte(f.kind))
	b = binary.BigEndian.AppendUint64(b, f.id)
	b = binary.BigEndian.AppendUint32(b, f.arg)
	return append(b, f.payload...)
}

// readFrame reads one frame of at most maxPayload payload bytes. A frame
// with a larger payload is skipped and returned without it, with
// errFrameTooLarge: the stream stays in step, and the frame's id can be
// answered. Any other error (a frame too short for its header, an unknown
// kind, a cut) leaves the stream out of step: it must be closed.
func readFrame(r *bufio.Reader, maxPayload int) (frame, error) {
	var head [4 + frameHeader]byte
	if _, err := io.ReadFull(r, head[:4]); err != nil {
		return frame{}, err
	}
	n := binary.BigEndian.Uint32(head[:4])
	if n < frameHeader {
		return frame{}, fmt.Errorf("forwarding stream: frame of %d bytes is shorter than its header", n)
	}
	if _, err := io.ReadFull(r, head[4:]); err != nil {
		return frame{}, unexpectedEOF(err)
	}
	f := frame{
		kind: frameKind(head[4]),
		id:   binary.BigEndian.Uint64(head[5:13]),
		arg:  binary.BigEndian.Uint32(head[13:17]),
	}
	if f.kind < framePropose || f.kind > frameReadIndex {
		return frame{}, fmt.Errorf("forwarding stream: unknown frame kind %d", f.kind)
	}
	size := int64(n - frameHeader)
	if size > int64(maxPayload) {
		if _, err := r.Discard(int(size)); err != nil {
			return frame{}, unexpectedEOF(err)
		}
		return f, errFrameTooLarge
	}
	f.payload = make([]byte, size)
	if _, err := io.ReadFull(r, f.payload); err != nil {
		return frame{}, unexpectedEOF(err)
	}
	return f, nil
}

// unexpectedEOF: a stream that ends inside a frame was cut, not closed.
func unexpectedEOF(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}
