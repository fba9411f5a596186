package api

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/hookline/hookline"
)

func TestDecodeEvent(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in      string
		code    string // "" when accepted
		message string
	}{
		{in: `{"type":"a.b","data":{"x":1}}`},
		{in: " \n{\"type\":\"a\",\"data\":1,\"tenant\":\"t\"}\n\t "},
		{in: `{"type":"a","data":1,"TYPE":"b"}`, code: hookline.EINVALID, message: `TYPE: unknown field; field names are case-sensitive: "type"`},
		{in: `{"Type":"a","data":1}`, code: hookline.EINVALID, message: `Type: unknown field; field names are case-sensitive: "type"`},
		{in: `{"type":"a","data":1,"type":"b"}`, code: hookline.EINVALID, message: "type: given twice"},
		{in: `{"type":"a","data":null}`, code: hookline.EINVALID, message: "data: required; any JSON value but null"},
		{in: `{"type":"a","data":"\ud800"}`, code: hookline.EINVALID, message: `data: \ud800 at offset 1 is a lone UTF-16 surrogate`},
		{in: `{"type":"a","data":["\uDFFF"]}`, code: hookline.EINVALID, message: `data: \uDFFF at offset 2 is a lone`},
		{in: `{"type":"a","data":"\ud83d\u0041"}`, code: hookline.EINVALID, message: `data: \ud83d at offset 1 is a lone`},
		{in: `{"type":"a","data":"\ud83d"}`, code: hookline.EINVALID, message: `data: \ud83d at offset 1 is a lone`},
		{in: "{\"type\":\"a\",\"data\":\"ok \xff\"}", code: hookline.EINVALID, message: "data: not valid UTF-8 at offset 4"},
		{in: "{\"type\":\"a\",\"data\":\"\xed\xa0\x80\"}", code: hookline.EINVALID, message: "data: not valid UTF-8 at offset 1"}, // a surrogate in UTF-8
		{in: `{"type":"a","data":"\ud83d\ude00 \\ud800 \u00e9"}`},                                                                 // a pair, an escaped backslash
		{in: `{"type":"a","data":123456789012345678901234567890.000000000000000000001e400}`},                                      // kept as sent
		{in: `{"type":"a","data":{"Type":1,"type":2,"type":3}}`},                                                                  // data is the sender's, as sent
		{in: `{"type":"a","data":1`, code: hookline.EINVALID, message: "request body: the JSON ends early"},
		{in: `{"type":"a","data":1}]`, code: hookline.EINVALID, message: "request body: unexpected data after the JSON value at offset 21"},
		{in: `{"type":"a","data":01}`, code: hookline.EINVALID, message: "request body: invalid JSON at offset 20"},
		{in: `{"type":"a","data":1,"x":2}`, code: hookline.EINVALID, message: "x: unknown field"},
		{in: `{"type":"a\u0000","data":1}`, code: hookline.EINVALID, message: "type: must be 1 to 256"},
		{in: `{"type":null,"data":1}`, code: hookline.EINVALID, message: "type: required"},
		{in: `"x"`, code: hookline.EINVALID, message: "request body: must be an object, not string"},
		{in: `null`, code: hookline.EINVALID, message: "request body: must be an object, not null"},
		{in: `[]`, code: hookline.EINVALID, message: "request body: must be an object, not array"},
		{in: `1`, code: hookline.EINVALID, message: "request body: must be an object, not number"},
		{in: ``, code: hookline.EINVALID, message: "request body: empty"},
	} {
		req, err := decodeEvent(strings.NewReader(tt.in))
		if got := hookline.ErrorCode(err); got != tt.code {
			t.Errorf("%s: code %q (%v), want %q", tt.in, got, err, tt.code)
		} else if msg := hookline.ErrorMessage(err); !strings.HasPrefix(msg, tt.message) {
			t.Errorf("%s: message %q, want %q", tt.in, msg, tt.message)
		} else if err == nil && (req.Type == "" || len(req.Data) == 0) {
			t.Errorf("%s: accepted as %+v", tt.in, req)
		} else if err == nil && !strings.Contains(tt.in, string(req.Data)) {
			t.Errorf("%s: data %s is not the bytes as sent", tt.in, req.Data)
		}
	}
}

func TestRequestHash(t *testing.T) {
	t.Parallel()
	hash := func(tenant, typ, data string, prio int, key string) string {
		return requestHash(&hookline.Event{Tenant: tenant, Type: typ, Data: []byte(data), Priority: prio, OrderingKey: key})
	}
	h := hash("t", "a", `{"x":1}`, hookline.DefaultPriority, "")
	if len(h) != 64 || strings.Trim(h, "0123456789abcdef") != "" {
		t.Fatalf("hash %q is not hex SHA-256", h)
	}
	// The hash of a request without priority or key is the one of old.
	if old := sha256.Sum256([]byte("t\x00a\x00{\"x\":1}")); h != hex.EncodeToString(old[:]) {
		t.Fatalf("hash %q of a request without priority or key is not the one keys were stored with", h)
	}
	for _, other := range []string{
		hash("", "ta", `{"x":1}`, 5, ""),
		hash("t", "a{", `"x":1}`, 5, ""),
		hash("t", "a", `{"x": 1}`, 5, ""),
		hash("t", "a", `{"x":1}`, 6, ""),
		hash("t", "a", `{"x":1}`, 5, "k"),
	} {
		if other == h {
			t.Fatal("different requests share a hash")
		}
	}
	if hash("t", "a", `{"x":1}`, 5, "") != h {
		t.Fatal("the hash is not stable")
	}
}

func TestErrorStatus(t *testing.T) {
	t.Parallel()
	for code, status := range map[string]int{
		hookline.EINVALID: 400, hookline.EUNAUTHORIZED: 401, hookline.EFORBIDDEN: 403, hookline.ENOTFOUND: 404, hookline.EMETHOD: 405,
		hookline.ECONFLICT: 409, hookline.ETOOLARGE: 413, hookline.EMEDIATYPE: 415, hookline.ERATELIMIT: 429, hookline.EUNAVAILABLE: 503,
		hookline.EINTERNAL: 500, "something new": 500,
	} {
		if got := errorStatus(code); got != status {
			t.Errorf("errorStatus(%q) = %d, want %d", code, got, status)
		}
	}
}

// FuzzDecodeEvent checks that the decoder of POST /v1/events never panics,
// that it accepts only events with a valid type, tenant and JSON data, and
// that what it rejects is a client error.
func FuzzDecodeEvent(f *testing.F) {
	for _, s := range []string{
		`{"type":"order.created","data":{"id":1,"items":[1,2,3]}}`,
		`{"type":"a","data":null,"tenant":"acme"}`,
		`{"type":"a","data":"\ud83d\ude00"}`,
		`{"type":"a","data":1}{"type":"b"}`,
		`{"type":"a b","data":[}`,
		`{"data":{"type":"a"}}`,
		`{"type":"a","data":1,"tenant":"x","extra":[]}`,
		`[{"type":"a","data":1}]`,
		`{"type":"a","data":-0.0e+5}`,
		`{"type":"a","data":"\ud800\udc00\\ud800"}`,
		`{"Type":"a","type":"a","data":1}`,
		"",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		req, err := decodeEvent(strings.NewReader(string(in)))
		if err != nil {
			if code := hookline.ErrorCode(err); code != hookline.EINVALID {
				t.Fatalf("rejected with %q, not invalid: %v", code, err)
			}
			return
		}
		if !hookline.ValidEventType(req.Type) {
			t.Fatalf("accepted type %q", req.Type)
		}
		if !hookline.ValidTenant(req.Tenant) {
			t.Fatalf("accepted tenant %q", req.Tenant)
		}
		if len(req.Data) == 0 || !json.Valid(req.Data) || string(req.Data) == "null" || !utf8.Valid(req.Data) {
			t.Fatalf("accepted data %q", req.Data)
		}
		if !bytes.Contains(in, req.Data) {
			t.Fatalf("data %q is not the bytes sent in %q", req.Data, in)
		}
		// Every string of data decodes to Unicode: no replacement
		// character (the decoding of a lone surrogate) that was not sent.
		var v any
		if err := json.Unmarshal(req.Data, &v); err != nil {
			t.Fatalf("data %q: %v", req.Data, err)
		}
		decoded, _ := json.Marshal(v)
		sent := bytes.Contains(req.Data, []byte("\xef\xbf\xbd")) || bytes.Contains(bytes.ToLower(req.Data), []byte(`\ufffd`))
		if bytes.Contains(decoded, []byte("\xef\xbf\xbd")) && !sent {
			t.Fatalf("data %q decodes with a replacement character", req.Data)
		}
		ev := hookline.Event{ID: "evt_x", Type: req.Type, Data: req.Data}
		if p := ev.Payload(); !json.Valid(p) {
			t.Fatalf("payload %q is not JSON", p)
		}
	})
}
