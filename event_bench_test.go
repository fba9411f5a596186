package hookline_test

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/hookline/hookline"
)

// BenchmarkPayload builds the body of an event with 1 KiB of data, once
// with an ID and type that need no escaping (the validated, usual case) and
// once with ones that do.
func BenchmarkPayload(b *testing.B) {
	data := json.RawMessage(`{"items":[` + string(bytes.Repeat([]byte(`{"sku":"A-1","n":1},`), 50)) + `{"sku":"Z","n":0}]}`)
	created := time.Date(2024, 6, 1, 12, 0, 0, 123456000, time.UTC)
	for _, bb := range []struct {
		name string
		e    *hookline.Event
	}{
		{"Plain", &hookline.Event{ID: "evt_01HZXW3N1Q8R5T6V7W8X9Y0Z1A", Type: "invoice.paid", Data: data, CreatedAt: created}},
		{"Escaped", &hookline.Event{ID: "evt_01HZXW3N1Q8R5T6V7W8X9Y0Z1A", Type: `invoice."paid"`, Data: data, CreatedAt: created}},
	} {
		b.Run(bb.name, func(b *testing.B) {
			b.SetBytes(int64(len(bb.e.Payload())))
			b.ReportAllocs()
			for b.Loop() {
				_ = bb.e.Payload()
			}
		})
	}
}
