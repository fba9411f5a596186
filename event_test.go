package hookline_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/hookline/hookline"
)

// payload is the decoded body of Event.Payload.
type payload struct {
	ID        string          `json:"id"`
	Type      string          `json:"type"`
	Timestamp string          `json:"timestamp"`
	Data      json.RawMessage `json:"data"`
}

// decodePayload checks that b is one JSON object with exactly the four
// fields of a payload, and decodes it.
func decodePayload(tb testing.TB, b []byte) payload {
	tb.Helper()
	if !json.Valid(b) {
		tb.Fatalf("Payload is not valid JSON: %s", b)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(b, &fields); err != nil {
		tb.Fatalf("Payload is not a JSON object: %v: %s", err, b)
	}
	if len(fields) != 4 {
		tb.Fatalf("Payload has %d fields, want id, type, timestamp and data: %s", len(fields), b)
	}
	var p payload
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		tb.Fatalf("decode Payload: %v: %s", err, b)
	}
	return p
}

// trimJSONSpace removes the whitespace JSON allows around a value.
func trimJSONSpace(b []byte) []byte { return bytes.Trim(b, " \t\r\n") }

func TestEventPayload(t *testing.T) {
	t.Parallel()
	created := time.Date(2024, 6, 1, 12, 0, 0, 123456000, time.UTC)

	t.Run("Exact", func(t *testing.T) {
		t.Parallel()
		e := &hookline.Event{ID: "evt_1", Tenant: "acme", Type: "invoice.paid", Data: json.RawMessage(`{"amount": 100,  "lines":[1, 2]}`), CreatedAt: created}
		want := `{"id":"evt_1","type":"invoice.paid","timestamp":"2024-06-01T12:00:00.123456Z","data":{"amount": 100,  "lines":[1, 2]}}`
		if got := e.Payload(); string(got) != want {
			t.Errorf("Payload =\n%s\nwant\n%s", got, want)
		}
	})

	t.Run("WholeSecond", func(t *testing.T) {
		t.Parallel()
		e := &hookline.Event{ID: "evt_1", Type: "t", Data: json.RawMessage(`1`), CreatedAt: time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC)}
		if p := decodePayload(t, e.Payload()); p.Timestamp != "2024-06-01T12:00:00Z" {
			t.Errorf("timestamp = %q, want 2024-06-01T12:00:00Z", p.Timestamp)
		}
	})

	t.Run("TimestampInUTC", func(t *testing.T) {
		t.Parallel()
		local := created.In(time.FixedZone("UTC+5", 5*3600))
		e := &hookline.Event{ID: "evt_1", Type: "t", Data: json.RawMessage(`{}`), CreatedAt: local}
		p := decodePayload(t, e.Payload())
		if !strings.HasSuffix(p.Timestamp, "Z") {
			t.Errorf("timestamp %q is not in UTC", p.Timestamp)
		}
		if ts, err := time.Parse(time.RFC3339, p.Timestamp); err != nil || !ts.Equal(created) {
			t.Errorf("timestamp %q parses to %v, %v; want %v", p.Timestamp, ts, err, created)
		}
	})

	t.Run("NoData", func(t *testing.T) {
		t.Parallel()
		for _, data := range []json.RawMessage{nil, {}} {
			e := &hookline.Event{ID: "evt_1", Type: "t", Data: data, CreatedAt: created}
			if p := decodePayload(t, e.Payload()); string(p.Data) != "null" {
				t.Errorf("data = %s, want null", p.Data)
			}
		}
	})

	t.Run("DataBytesPreserved", func(t *testing.T) {
		t.Parallel()
		for _, data := range []string{
			`null`, `true`, `0`, `-1.5e300`, `"text"`, `[]`, `{}`,
			`{"b":1,"a":2}`,                       // key order kept
			`{"a":1,"a":2}`,                       // duplicate keys kept
			`{"n":12345678901234567890123}`,       // no float rounding
			`{"s":"\u00e9\ud83d\ude00 <b> & \/"}`, // escapes kept as written
			"{\n\t\"pretty\": [\n\t\t1\n\t]\n}",
			`{"html":"<script>&</script>","u":"é😀"}`,
		} {
			e := &hookline.Event{ID: "evt_1", Type: "t", Data: json.RawMessage(data), CreatedAt: created}
			b := e.Payload()
			if p := decodePayload(t, b); string(p.Data) != data {
				t.Errorf("data = %s, want %s", p.Data, data)
			}
			if !bytes.HasSuffix(b, []byte(`"data":`+data+`}`)) {
				t.Errorf("Payload %s does not end with the data bytes as given", b)
			}
		}
	})

	t.Run("TrickyIDsAndTypes", func(t *testing.T) {
		t.Parallel()
		for _, s := range []string{
			"", `"`, `\`, `a"b\c`, `"},"data":1,"x":{"`, "tab\there", "nl\nhere", "nul\x00", "\x1f\x7f",
			"ünïcødé", "😀", "<script>&amp;</script>", "\u2028\u2029", "invoice.paid",
		} {
			e := &hookline.Event{ID: s, Type: s + ".type", Data: json.RawMessage(`{"x":1}`), CreatedAt: created}
			p := decodePayload(t, e.Payload())
			if p.ID != s || p.Type != s+".type" || string(p.Data) != `{"x":1}` {
				t.Errorf("Payload of id %q decodes to %+v", s, p)
			}
		}
	})

	t.Run("InvalidUTF8StillValidJSON", func(t *testing.T) {
		t.Parallel()
		e := &hookline.Event{ID: "evt_\xff", Type: "a\xc3", Data: json.RawMessage(`1`), CreatedAt: created}
		p := decodePayload(t, e.Payload())
		if !utf8.ValidString(p.ID) || !utf8.ValidString(p.Type) {
			t.Errorf("decoded %q, %q", p.ID, p.Type)
		}
	})

	t.Run("Fresh", func(t *testing.T) {
		t.Parallel()
		e := &hookline.Event{ID: "evt_1", Type: "t", Data: json.RawMessage(`[1]`), CreatedAt: created}
		a, b := e.Payload(), e.Payload()
		a[0] = 'X'
		if b[0] != '{' {
			t.Error("two Payload calls share bytes")
		}
	})
}

// FuzzEventPayload checks that for any ID, type and time, and any data that
// is valid JSON, the payload is valid JSON that decodes back to the same
// fields.
func FuzzEventPayload(f *testing.F) {
	f.Add("evt_01HZXW3N1Q8R5T6V7W8X9Y0Z1A", "invoice.paid", []byte(`{"amount":100}`), int64(1717243200123456000))
	f.Add("", "", []byte(`null`), int64(0))
	f.Add(`"\`, "\x00\u2028😀", []byte(" [1, {\"a\": \"\\u0000\"}]\n"), int64(-1))
	f.Add("a\xffb", "<&>", []byte(`"\ud800"`), int64(1<<62))
	f.Fuzz(func(t *testing.T, id, typ string, data []byte, unixNano int64) {
		if !json.Valid(data) {
			t.Skip()
		}
		created := time.Unix(0, unixNano)
		e := &hookline.Event{ID: id, Type: typ, Data: data, CreatedAt: created}
		b := e.Payload()
		p := decodePayload(t, b)

		// JSON strings hold only UTF-8: invalid bytes come back as U+FFFD.
		if utf8.ValidString(id) && p.ID != id {
			t.Errorf("id = %q, want %q", p.ID, id)
		}
		if utf8.ValidString(typ) && p.Type != typ {
			t.Errorf("type = %q, want %q", p.Type, typ)
		}
		if want := trimJSONSpace(data); !bytes.Equal(p.Data, want) {
			t.Errorf("data = %q, want %q", p.Data, want)
		}
		if !bytes.Contains(b, data) {
			t.Errorf("Payload %q does not hold the data bytes %q", b, data)
		}
		ts, err := time.Parse(time.RFC3339, p.Timestamp)
		if err != nil || !ts.Equal(created) {
			t.Errorf("timestamp %q parses to %v, %v; want %v", p.Timestamp, ts, err, created)
		}
	})
}

func TestValidEventType(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		s    string
		want bool
	}{
		{"invoice.paid", true},
		{"a", true},
		{"user.created.v2", true},
		{"snake_case-and:colons/slashes", true},
		{"!~", true},
		{strings.Repeat("a", 256), true},
		{"", false},
		{strings.Repeat("a", 257), false},
		{"invoice paid", false},
		{" invoice.paid", false},
		{"invoice.paid\n", false},
		{"tab\there", false},
		{"nul\x00", false},
		{"del\x7f", false},
		{"ünicode", false},
		{"\xff", false},
	} {
		if got := hookline.ValidEventType(tt.s); got != tt.want {
			t.Errorf("ValidEventType(%.40q) = %v, want %v", tt.s, got, tt.want)
		}
	}
}

func TestValidTenant(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		s    string
		want bool
	}{
		{"", true},
		{"acme", true},
		{"org_123/team-4", true},
		{strings.Repeat("t", 128), true},
		{strings.Repeat("t", 129), false},
		{"acme corp", false},
		{"acme\n", false},
		{"\x00", false},
		{"\x7f", false},
		{"çafé", false},
	} {
		if got := hookline.ValidTenant(tt.s); got != tt.want {
			t.Errorf("ValidTenant(%.40q) = %v, want %v", tt.s, got, tt.want)
		}
	}
}

func TestClampPriority(t *testing.T) {
	for _, c := range []struct{ in, want int }{{-3, 0}, {0, 0}, {5, 5}, {9, 9}, {42, 9}} {
		if got := hookline.ClampPriority(c.in); got != c.want {
			t.Errorf("ClampPriority(%d) = %d, want %d", c.in, got, c.want)
		}
	}
}
