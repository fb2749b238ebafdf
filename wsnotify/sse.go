package wsnotify

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/canopy-coord/canopy/api"
	"github.com/canopy-coord/canopy/fsm"
)

// ServeSSE streams the events of a path (and with ?recursive, of its
// subtree) as Server-Sent Events: `id: <zxid>/<k>` and `data: <event>`.
// ?since_zxid=N, or a Last-Event-ID header, resumes without a gap.
func (h *Handler) ServeSSE(w http.ResponseWriter, r *http.Request) {
	path, kind, after, skip, err := h.sseRequest(r)
	if err != nil {
		writeError(w, h.store.Applied(), err)
		return
	}
	// Resuming on a node that has not applied the resume point yet (the
	// stream was on another node): wait for it, as addWatch does.
	ctx, cancel := context.WithTimeout(r.Context(), frameTimeout)
	err = h.store.Await(ctx, false, after)
	cancel()
	if err != nil {
		writeError(w, h.store.Applied(), err)
		return
	}
	sub := h.hub.NewSubscriber()
	defer h.hub.Close(sub)
	if err := h.hub.Watch(sub, kind, path, after, nil); err != nil {
		writeError(w, h.store.Applied(), err)
		return
	}
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Accel-Buffering", "no")
	w.Header().Set("Canopy-Zxid", strconv.FormatInt(after, 10))
	w.WriteHeader(http.StatusOK)
	fmt.Fprintf(w, ": watching %s from zxid %d\n\n", path, after)
	if rc.Flush() != nil {
		return
	}
	heartbeat := time.NewTicker(15 * time.Second)
	defer heartbeat.Stop()
	for {
		var chunk string
		select {
		case <-r.Context().Done():
			return
		case <-sub.Dropped():
			// The client fell behind: tell it where to resume, then end.
			fmt.Fprint(w, "event: resync\ndata: {}\n\n")
			rc.Flush()
			return
		case <-heartbeat.C:
			chunk = ": ping\n\n"
		case <-sub.Wake():
			var b strings.Builder
			for _, it := range sub.take() {
				d := it.event
				if d == nil || (d.Zxid == skip.zxid && d.K <= skip.k) {
					continue
				}
				fmt.Fprintf(&b, "id: %d/%d\ndata: %s\n\n", d.Zxid, d.K, d.JSON())
			}
			if chunk = b.String(); chunk == "" {
				continue
			}
		}
		rc.SetWriteDeadline(time.Now().Add(h.cfg.WriteTimeout))
		if _, err := fmt.Fprint(w, chunk); err != nil || rc.Flush() != nil {
			return
		}
	}
}

type eventID struct {
	zxid int64
	k    int
}

// sseRequest reads path, recursive and since_zxid, or Last-Event-ID.
func (h *Handler) sseRequest(r *http.Request) (path string, kind Kind, after int64, skip eventID, err error) {
	skip = eventID{zxid: -1}
	q, perr := url.ParseQuery(r.URL.RawQuery)
	if perr != nil {
		return "", 0, 0, skip, api.Errorf(api.CodeBadArguments, "", "malformed query string: %v", perr)
	}
	for k := range q {
		if k != "path" && k != "recursive" && k != "since_zxid" {
			return "", 0, 0, skip, api.Errorf(api.CodeBadArguments, "", "unknown query parameter %q (this route takes: path, recursive, since_zxid)", k)
		}
	}
	path = q.Get("path")
	if path == "" {
		path = "/"
	}
	if err := fsm.ValidatePath(path); err != nil {
		return "", 0, 0, skip, err
	}
	kind = KindPersistent
	switch q.Get("recursive") {
	case "", "true", "1":
		if q.Has("recursive") {
			kind = KindRecursive
		}
	case "false", "0":
	default:
		return "", 0, 0, skip, api.Errorf(api.CodeBadArguments, path, "flag \"recursive\" takes no value, true or false")
	}
	after = h.store.Applied()
	if q.Has("since_zxid") {
		after, err = strconv.ParseInt(q.Get("since_zxid"), 10, 64)
		if err != nil || after < 0 {
			return "", 0, 0, skip, api.Errorf(api.CodeBadArguments, path, "since_zxid must be a non-negative integer")
		}
	}
	if last := r.Header.Get("Last-Event-ID"); last != "" {
		z, k, ok := strings.Cut(last, "/")
		zxid, zerr := strconv.ParseInt(z, 10, 64)
		kk, kerr := strconv.Atoi(k)
		if !ok || zerr != nil || kerr != nil || zxid < 1 || kk < 0 {
			return "", 0, 0, skip, api.Errorf(api.CodeBadArguments, path, "Last-Event-ID must be <zxid>/<k>, got %q", last)
		}
		// Replay from the start of that zxid, skipping what was seen.
		after, skip = zxid-1, eventID{zxid: zxid, k: kk}
	}
	return path, kind, after, skip, nil
}

func writeError(w http.ResponseWriter, zxid int64, err error) {
	e := asAPIError(err)
	w.Header().Set("Canopy-Zxid", strconv.FormatInt(zxid, 10))
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(e.Code.Status())
	json.NewEncoder(w).Encode(api.ErrorBody{Error: e})
}
