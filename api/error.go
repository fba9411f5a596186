package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/hookline/hookline"
)

// errorStatus maps an error code to its HTTP status. It is the only place
// that does; an unknown code is a bug and maps to 500.
func errorStatus(code string) int {
	switch code {
	case hookline.EINVALID:
		return http.StatusBadRequest
	case hookline.EUNAUTHORIZED:
		return http.StatusUnauthorized
	case hookline.EFORBIDDEN:
		return http.StatusForbidden
	case hookline.ENOTFOUND:
		return http.StatusNotFound
	case hookline.EMETHOD:
		return http.StatusMethodNotAllowed
	case hookline.ECONFLICT:
		return http.StatusConflict
	case hookline.ETOOLARGE:
		return http.StatusRequestEntityTooLarge
	case hookline.EMEDIATYPE:
		return http.StatusUnsupportedMediaType
	case hookline.ERATELIMIT:
		return http.StatusTooManyRequests
	case hookline.EUNAVAILABLE:
		return http.StatusServiceUnavailable
	default:
		return http.StatusInternalServerError
	}
}

// errorResponse is the body of every error answer.
type errorResponse struct {
	Error   string `json:"error"`
	Message string `json:"message"`
}

// writeError answers with err as {"error":code,"message":…}. Only internal
// errors are logged, and their text is not shown to the client. An internal
// error while the store does not answer a ping (it is closed or down) is
// answered as unavailable: the client should try again, not report a bug.
// A 401 carries WWW-Authenticate; a 429 and a 503 carry Retry-After (1 s
// unless the caller set it). The caller sets Allow on a 405.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	code := hookline.ErrorCode(err)
	msg := hookline.ErrorMessage(err)
	if code == hookline.EINTERNAL {
		msg = "Internal error."
		level := slog.LevelError
		if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
			level = slog.LevelDebug // the client went away
		}
		s.log.LogAttrs(r.Context(), level, "internal error",
			slog.String("method", clip(r.Method, maxEchoMethod)),
			slog.String("path", clip(r.URL.Path, maxEcho)),
			slog.String("err", err.Error()),
		)
		if s.storeDown(r.Context()) {
			code, msg = hookline.EUNAVAILABLE, "The store is not answering; try again shortly."
		}
	}
	s.setWriteDeadline(w, time.Now())
	writeErrorResponse(w, code, msg)
}

// storeDown reports whether the store fails a ping within a second.
func (s *Server) storeDown(ctx context.Context) bool {
	if s.store == nil || ctx.Err() != nil {
		return false
	}
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	return s.store.Ping(ctx) != nil
}

// writeErrorResponse writes an error body with the status of code, without
// logging. A message over maxMessage bytes is clipped, so that no answer
// repeats a request at length.
func writeErrorResponse(w http.ResponseWriter, code, msg string) {
	msg = clip(msg, maxMessage)
	h := w.Header()
	switch code {
	case hookline.EUNAUTHORIZED:
		h.Set("WWW-Authenticate", `Bearer realm="hookline"`)
	case hookline.EUNAVAILABLE, hookline.ERATELIMIT:
		if h.Get("Retry-After") == "" {
			h.Set("Retry-After", "1")
		}
	}
	b, _ := json.Marshal(errorResponse{Error: code, Message: msg}) // strings only: cannot fail
	h["Content-Type"] = jsonContentType
	h["X-Content-Type-Options"] = nosniff
	w.WriteHeader(errorStatus(code))
	_, _ = w.Write(append(b, '\n'))
}

// Header values shared by every answer; net/http does not modify them.
var (
	jsonContentType = []string{"application/json"}
	nosniff         = []string{"nosniff"}
	noStore         = []string{"no-store"}
)

// bufPool holds the buffers answers are encoded into.
var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// maxPooledBuffer is the largest buffer put back in bufPool, so that one
// large list does not pin its memory.
const maxPooledBuffer = 64 << 10

// writeJSON answers with status and v as JSON. v is encoded before anything
// is written, so an encoding failure still gets a clean 500. Writing has
// WriteTimeout from now. HTML characters
// are not escaped: the body is served as application/json with nosniff.
func (s *Server) writeJSON(w http.ResponseWriter, r *http.Request, status int, v any) {
	buf := bufPool.Get().(*bytes.Buffer)
	buf.Reset()
	defer func() {
		if buf.Cap() <= maxPooledBuffer {
			bufPool.Put(buf)
		}
	}()
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		s.writeError(w, r, err)
		return
	}
	h := w.Header()
	h["Content-Type"] = jsonContentType
	h["X-Content-Type-Options"] = nosniff
	s.setWriteDeadline(w, time.Now())
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}
