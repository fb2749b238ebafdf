package httpapi

import (
	"net/http"
	"strconv"

	"github.com/canopy-coord/canopy/api"
)

const (
	headerZxid    = api.HeaderZxid
	headerSession = "Canopy-Session"
	headerStat    = "Canopy-Stat"
)

func setZxid(w http.ResponseWriter, zxid int64) {
	w.Header().Set(headerZxid, strconv.FormatInt(zxid, 10))
}

func writeJSON(w http.ResponseWriter, status int, zxid int64, v any) {
	api.WriteJSON(w, status, zxid, v)
}

func writeError(w http.ResponseWriter, zxid int64, err error) { api.WriteError(w, zxid, err) }

func badArgs(path, format string, args ...any) *api.Error {
	return api.Errorf(api.CodeBadArguments, path, format, args...)
}
