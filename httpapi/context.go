package httpapi

import (
	"context"
	"net/http"
	"time"
)

func contextWith(r *http.Request, k ctxKey, v any) context.Context {
	return context.WithValue(r.Context(), k, v)
}

func contextTimeout(ctx context.Context, ms int64) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, time.Duration(ms)*time.Millisecond)
}
