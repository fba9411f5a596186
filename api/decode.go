package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"

	"github.com/hookline/hookline"
)

// checkContentType returns EMEDIATYPE unless r declares a JSON body:
// application/json, with charset=utf-8 if it names a charset.
func checkContentType(r *http.Request) error {
	ct := r.Header.Get("Content-Type")
	if ct == "application/json" {
		return nil // the common case, without parsing
	}
	if ct == "" {
		return hookline.Errorf(hookline.EMEDIATYPE, "Content-Type: missing; a request body must be sent as application/json")
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || mt != "application/json" {
		return hookline.Errorf(hookline.EMEDIATYPE, "Content-Type: must be application/json, not %.100q", ct)
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return hookline.Errorf(hookline.EMEDIATYPE, "Content-Type: the charset must be utf-8, not %.40q", cs)
	}
	return nil
}

// decodeBody decodes the required JSON body of r into v: it must be declared
// as application/json (else EMEDIATYPE), be at most the server's MaxPayload
// (else ETOOLARGE) and hold one JSON value, with no unknown fields and
// nothing after it (else EINVALID).
func (s *Server) decodeBody(w http.ResponseWriter, r *http.Request, v any) error {
	body, err := s.body(w, r)
	if err != nil {
		return err
	}
	return decodeJSON(body, v, "")
}

// body checks that r declares a JSON body of at most MaxPayload bytes and
// returns it, limited to MaxPayload bytes.
func (s *Server) body(w http.ResponseWriter, r *http.Request) (io.Reader, error) {
	if err := checkContentType(r); err != nil {
		return nil, err
	}
	if r.ContentLength > s.maxPayload {
		return nil, tooLarge(s.maxPayload)
	}
	return http.MaxBytesReader(w, r.Body, s.maxPayload), nil
}

// decodeOptionalBody is decodeBody for routes whose body may be left out: an
// empty body leaves v alone and needs no Content-Type.
func (s *Server) decodeOptionalBody(w http.ResponseWriter, r *http.Request, v any) error {
	if r.ContentLength == 0 {
		return nil
	}
	if r.ContentLength > 0 {
		return s.decodeBody(w, r, v)
	}
	// Unknown length (chunked): read it to see whether it is empty.
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.maxPayload))
	if err != nil {
		return jsonError(err, "")
	} else if len(b) == 0 {
		return nil
	} else if err := checkContentType(r); err != nil {
		return err
	}
	return decodeJSON(bytes.NewReader(b), v, "")
}

// decodeJSON decodes the one JSON value in rd into v. Errors name the field
// at fault, prefixed by at (e.g. "events[3]"; "" for the request body).
func decodeJSON(rd io.Reader, v any, at string) error {
	dec := json.NewDecoder(rd)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err, at)
	}
	end := dec.InputOffset()
	if _, err := dec.Token(); err != io.EOF {
		if e := (*http.MaxBytesError)(nil); errors.As(err, &e) {
			return tooLarge(e.Limit)
		}
		return hookline.Errorf(hookline.EINVALID, "%s: unexpected data after the JSON value at offset %d", where(at), end)
	}
	return nil
}

// jsonError turns a decoding error into an *hookline.Error naming the field,
// or the offset of a syntax error.
func jsonError(err error, at string) error {
	var (
		tooBig  *http.MaxBytesError
		syntax  *json.SyntaxError
		typeErr *json.UnmarshalTypeError
		invalid *json.InvalidUnmarshalError
	)
	switch {
	case errors.As(err, &tooBig):
		return tooLarge(tooBig.Limit)
	case errors.As(err, &syntax):
		return hookline.Errorf(hookline.EINVALID, "%s: invalid JSON at offset %d: %s", where(at), syntax.Offset, syntax.Error())
	case errors.Is(err, io.EOF):
		return hookline.Errorf(hookline.EINVALID, "%s: empty; a JSON object is required", where(at))
	case errors.Is(err, io.ErrUnexpectedEOF):
		return hookline.Errorf(hookline.EINVALID, "%s: the JSON ends early", where(at))
	case errors.As(err, &typeErr):
		return hookline.Errorf(hookline.EINVALID, "%s: must be %s, not %s", where(join(at, typeErr.Field)), kind(typeErr.Type), typeErr.Value)
	case errors.As(err, &invalid):
		return err // a bug: internal
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		if n, err := strconv.Unquote(name); err == nil {
			name = n
		}
		return hookline.Errorf(hookline.EINVALID, "%s: unknown field", join(at, name))
	}
	return hookline.Errorf(hookline.EINVALID, "%s: could not be read", where(at))
}

// tooLarge is the error of a body over limit bytes.
func tooLarge(limit int64) error {
	return hookline.Errorf(hookline.ETOOLARGE, "request body: larger than the limit of %d bytes", limit)
}

// where names a place in the request for a message: at, or the body itself.
func where(at string) string {
	if at == "" {
		return "request body"
	}
	return at
}

// join appends a field path to at: join("events[3]", "type") is
// "events[3].type".
func join(at, field string) string {
	switch {
	case field == "":
		return at
	case at == "":
		return field
	}
	return at + "." + field
}

// kind describes what a Go type accepts, in JSON terms.
func kind(t reflect.Type) string {
	if t == nil {
		return "another type"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "an integer"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a non-negative integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.Pointer:
		return kind(t.Elem())
	}
	return "another type"
}

// maxCursor bounds the cursor a client may send; the stores' cursors are IDs.
const maxCursor = 256

// page reads the cursor and limit query parameters of a list. An absent
// limit is 0, which the store takes as hookline.DefaultLimit.
func page(q url.Values) (cursor string, limit int, err error) {
	if v := q.Get("limit"); v != "" {
		limit, err = strconv.Atoi(v)
		if err != nil || limit < 1 || limit > hookline.MaxLimit {
			return "", 0, hookline.Errorf(hookline.EINVALID, "limit: must be an integer from 1 to %d", hookline.MaxLimit)
		}
	}
	cursor = q.Get("cursor")
	if len(cursor) > maxCursor {
		return "", 0, hookline.Errorf(hookline.EINVALID, "cursor: not a cursor from a previous page")
	}
	return cursor, limit, nil
}

// list is the answer of every list route. NextCursor is null on the last
// page.
type list[T any] struct {
	Data       []T     `json:"data"`
	NextCursor *string `json:"next_cursor"`
}

// data is the answer of routes that return every item at once, without a
// cursor.
type data[T any] struct {
	Data []T `json:"data"`
}

// newList returns a page of items; data is never null.
func newList[T any](items []T, next string) list[T] {
	if items == nil {
		items = []T{}
	}
	l := list[T]{Data: items}
	if next != "" {
		l.NextCursor = &next
	}
	return l
}
