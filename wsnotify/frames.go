package wsnotify

import (
	"encoding/json"

	"github.com/canopy-coord/canopy/api"
)

// request and response are the frames of DESIGN §6, whose types live in
// api with the other wire types.
type (
	request  = api.Request
	response = api.Response
)

func encodeFrame(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		b, _ = json.Marshal(response{Error: &api.Error{Code: api.CodeSystemError, Message: err.Error()}})
	}
	return b
}

// eventFrame wraps an encoded event: {"event": {...}}.
func eventFrame(d *Delivery) []byte {
	j := d.JSON()
	b := make([]byte, 0, len(j)+10)
	b = append(b, `{"event":`...)
	b = append(b, j...)
	return append(b, '}')
}
