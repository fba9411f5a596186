package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

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

// decodeJSON decodes the one JSON object in rd into v, a pointer to a
// request struct. Errors name the field at fault, prefixed by at (e.g.
// "events[3]"; "" for the request body). It is stricter than
// encoding/json: field names match their json tags exactly (not whatever
// the case), a field given twice is refused, and the value must be an
// object (not null).
func decodeJSON(rd io.Reader, v any, at string) error {
	dec := json.NewDecoder(rd)
	dec.DisallowUnknownFields() // for structs nested in a field's value
	if err := decodeObject(dec, v, at); err != nil {
		return err
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

// decodeObject reads one JSON object from dec into the struct v points to,
// one field at a time, so that each name is matched exactly and once.
// Values are decoded by encoding/json; a json.RawMessage field keeps the
// bytes as sent, numbers included.
func decodeObject(dec *json.Decoder, v any, at string) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.Elem().Kind() != reflect.Struct {
		return fmt.Errorf("decode: %T is not a pointer to a struct", v) // a bug: internal
	}
	rv = rv.Elem()
	fields := fieldsOf(rv.Type())
	tok, err := dec.Token()
	if err != nil {
		return jsonError(err, at)
	}
	if tok != json.Delim('{') {
		return hookline.Errorf(hookline.EINVALID, "%s: must be an object, not %s", where(at), tokenKind(tok))
	}
	var seen uint64 // bit i: fields[i] was given
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return jsonError(early(err), at)
		}
		name, _ := tok.(string) // an object key is always a string
		i, ok := fields.index[name]
		if !ok {
			return unknownField(at, name, fields.names)
		} else if seen&(1<<i) != 0 {
			return hookline.Errorf(hookline.EINVALID, "%s: given twice", join(at, name))
		}
		seen |= 1 << i
		if err := dec.Decode(rv.Field(fields.fields[i]).Addr().Interface()); err != nil {
			if te := (*json.UnmarshalTypeError)(nil); errors.As(err, &te) {
				return jsonError(err, join(at, name))
			}
			return jsonError(early(err), at) // syntax, size: about the body as a whole
		}
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return jsonError(early(err), at)
	}
	return nil
}

// early turns the end of the input inside an object into
// io.ErrUnexpectedEOF.
func early(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// unknownField is the error of a field name that no field has; when it
// differs from one only by case, the message says so.
func unknownField(at, name string, names []string) error {
	for _, n := range names {
		if strings.EqualFold(n, name) {
			return hookline.Errorf(hookline.EINVALID, "%s: unknown field; field names are case-sensitive: %q", join(at, clip(name, maxEcho)), n)
		}
	}
	return hookline.Errorf(hookline.EINVALID, "%s: unknown field", join(at, clip(name, maxEcho)))
}

// tokenKind names the JSON kind of a token, for a message.
func tokenKind(tok json.Token) string {
	switch tok.(type) {
	case nil:
		return "null"
	case bool:
		return "true or false"
	case float64, json.Number:
		return "number"
	case json.Delim:
		return "array" // the only other delimiter a value starts with
	}
	return "string"
}

// structFields are the JSON fields of a request struct.
type structFields struct {
	index  map[string]int // json name → position in fields
	fields []int          // struct field indexes
	names  []string       // json names, in order
}

// fieldCache holds the structFields of each request type.
var fieldCache sync.Map // reflect.Type → *structFields

// fieldsOf returns the JSON fields of struct type t: its exported fields
// with a json tag name (at most 64).
func fieldsOf(t reflect.Type) *structFields {
	if f, ok := fieldCache.Load(t); ok {
		return f.(*structFields)
	}
	f := &structFields{index: map[string]int{}}
	for i := range t.NumField() {
		sf := t.Field(i)
		name, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
		if !sf.IsExported() || name == "" || name == "-" {
			continue
		}
		f.index[name] = len(f.fields)
		f.fields = append(f.fields, i)
		f.names = append(f.names, name)
	}
	if len(f.fields) > 64 {
		panic("api: a request type has more than 64 fields")
	}
	fieldCache.Store(t, f)
	return f
}

// checkUnicode returns an EINVALID error naming field when the JSON text
// b holds invalid UTF-8 or a \u escape of a lone UTF-16 surrogate: both
// are accepted by encoding/json in a json.RawMessage, which is stored and
// delivered as sent, and both break receivers' parsers. b must be valid
// JSON, so that a backslash can only be part of an escape in a string.
func checkUnicode(field string, b []byte) error {
	if !utf8.Valid(b) {
		off := 0
		for off < len(b) {
			r, n := utf8.DecodeRune(b[off:])
			if r == utf8.RuneError && n <= 1 {
				break
			}
			off += n
		}
		return hookline.Errorf(hookline.EINVALID, "%s: not valid UTF-8 at offset %d", field, off)
	}
	for i := 0; i+1 < len(b); i++ {
		if b[i] != '\\' {
			continue
		}
		i++ // the escaped character
		if b[i] != 'u' || i+4 >= len(b) {
			continue
		}
		r := hex4(b[i+1 : i+5])
		switch {
		case r >= 0xD800 && r < 0xDC00: // high surrogate: a low one must follow
			if i+10 < len(b) && b[i+5] == '\\' && b[i+6] == 'u' {
				if lo := hex4(b[i+7 : i+11]); lo >= 0xDC00 && lo < 0xE000 {
					i += 10
					continue
				}
			}
			return loneSurrogate(field, b, i-1)
		case r >= 0xDC00 && r < 0xE000:
			return loneSurrogate(field, b, i-1)
		}
		i += 4
	}
	return nil
}

// loneSurrogate is the error of the escape at b[off:off+6].
func loneSurrogate(field string, b []byte, off int) error {
	return hookline.Errorf(hookline.EINVALID, "%s: %s at offset %d is a lone UTF-16 surrogate, not a character", field, b[off:off+6], off)
}

// hex4 decodes four hex digits; encoding/json has checked that they are.
func hex4(b []byte) rune {
	var r rune
	for _, c := range b {
		switch {
		case c >= '0' && c <= '9':
			c -= '0'
		case c >= 'a' && c <= 'f':
			c -= 'a' - 10
		case c >= 'A' && c <= 'F':
			c -= 'A' - 10
		default:
			return -1
		}
		r = r<<4 | rune(c)
	}
	return r
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

// page reads the cursor and limit query parameters of a list whose items
// have IDs starting with prefix. An absent limit is 0, which the store takes
// as hookline.DefaultLimit. A cursor is the ID of the last item of the
// previous page: anything else is refused, rather than answered with a page
// that would look right.
func page(q url.Values, prefix string) (cursor string, limit int, err error) {
	if v := q.Get("limit"); v != "" {
		limit, err = strconv.Atoi(v)
		if err != nil || limit < 1 || limit > hookline.MaxLimit {
			return "", 0, hookline.Errorf(hookline.EINVALID, "limit: must be an integer from 1 to %d", hookline.MaxLimit)
		}
	}
	cursor = q.Get("cursor")
	if cursor != "" && !validID(prefix, cursor) {
		return "", 0, hookline.Errorf(hookline.EINVALID, "cursor: not a cursor from a previous page of this list (%s followed by 26 characters)", prefix)
	}
	return cursor, limit, nil
}

// checkTenant refuses a tenant name that hookline.ValidTenant does not take.
func checkTenant(t string) error {
	if !hookline.ValidTenant(t) {
		return hookline.Errorf(hookline.EINVALID, "tenant: must be at most 128 printable ASCII characters without spaces")
	}
	return nil
}

// tenantParam reads the tenant query parameter of a list: nil when it is
// absent (no filter), else its value, even empty (the default tenant).
func tenantParam(q url.Values) (*string, error) {
	t, ok := q["tenant"]
	if !ok {
		return nil, nil
	}
	if err := checkTenant(t[0]); err != nil {
		return nil, err
	}
	return &t[0], nil
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
