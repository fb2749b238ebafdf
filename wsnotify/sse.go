package wsnotify

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/canopy-coord/canopy/api"
	"github.com/canopy-coord/canopy/service"
)

// ServeSSE streams the events of a path (and with ?recursive, of its
// subtree) as Server-Sent Events: `id: <zxid>/<k>` and `data: <event>`.
// ?since_zxid=N, or a Last-Event-ID header, resumes without a gap.
func (h *Handler) ServeSSE(w http.ResponseWriter, r *http.Request) {
	path, kind, since, skip, err := h.sseRequest(r)
	var after int64
	if err == nil {
		// Resuming on a node that has not applied the resume point yet
		// (the stream was on another node) waits for it, as addWatch does.
		after, err = h.svc.WatchFrom(r.Context(), path, since)
	}
	if err != nil {
		api.WriteError(w, h.svc.Applied(), err)
		return
	}
	defer h.connection("sse", r)()
	sub := h.hub.NewSubscriberFor(service.CallerOf(r.Context()).Identity)
	defer h.hub.Close(sub)
	if err := h.hub.Watch(sub, kind, path, after, nil); err != nil {
		api.WriteError(w, h.svc.Applied(), err)
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
func (h *Handler) sseRequest(r *http.Request) (path string, kind Kind, since *int64, skip eventID, err error) {
	skip = eventID{zxid: -1}
	q, perr := url.ParseQuery(r.URL.RawQuery)
	if perr != nil {
		return "", 0, nil, skip, api.BadArguments("", "malformed query string: %v", perr)
	}
	for k := range q {
		if k != "path" && k != "recursive" && k != "since_zxid" {
			return "", 0, nil, skip, api.BadArguments("", "unknown query parameter %q (this route takes: path, recursive, since_zxid)", k)
		}
	}
	path = q.Get("path")
	if path == "" {
		path = "/"
	}
	kind = KindPersistent
	switch q.Get("recursive") {
	case "", "true", "1":
		if q.Has("recursive") {
			kind = KindRecursive
		}
	case "false", "0":
	default:
		return "", 0, nil, skip, api.BadArguments(path, "flag \"recursive\" takes no value, true or false")
	}
	if q.Has("since_zxid") {
		v, perr := strconv.ParseInt(q.Get("since_zxid"), 10, 64)
		if perr != nil {
			return "", 0, nil, skip, api.BadArguments(path, "since_zxid must be a non-negative integer")
		}
		since = &v
	}
	if last := r.Header.Get("Last-Event-ID"); last != "" {
		z, k, ok := strings.Cut(last, "/")
		zxid, zerr := strconv.ParseInt(z, 10, 64)
		kk, kerr := strconv.Atoi(k)
		if !ok || zerr != nil || kerr != nil || zxid < 1 || kk < 0 {
			return "", 0, nil, skip, api.BadArguments(path, "Last-Event-ID must be <zxid>/<k>, got %q", last)
		}
		// Replay from the start of that zxid, skipping what was seen.
		from := zxid - 1
		since, skip = &from, eventID{zxid: zxid, k: kk}
	}
	return path, kind, since, skip, nil
}
