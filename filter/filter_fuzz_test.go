package filter_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/hookline/hookline"
	"github.com/hookline/hookline/filter"
)

// FuzzCompile feeds the parser any bytes: it must not panic, must refuse
// with EINVALID naming the filter, and a filter it accepts must match any
// document without panicking, the same way twice.
func FuzzCompile(f *testing.F) {
	for _, s := range []string{
		`{}`, `null`, `{"type": "a"}`,
		`{"data": {"amount": {"$gte": 1000}, "currency": {"$in": ["EUR", "USD"]}}}`,
		`{"$or": [{"type": "x"}, {"$not": {"data": {"a": {"$exists": false}}}}]}`,
		`{"data": {"tags": {"$nin": [1, "a", null, true, [1], {"x": 1}]}}}`,
		`{"data": {"x": {"$not": {"$lt": 1e400}}}}`,
		`{"data": [`, `{"data": {"$and": [{"a": 1}]}}`,
	} {
		f.Add(s, `{"amount": 1500, "tags": ["a", 1], "x": {"a": null}}`)
	}
	f.Fuzz(func(t *testing.T, src, data string) {
		flt, err := filter.Compile("filter", json.RawMessage(src))
		if err != nil {
			if hookline.ErrorCode(err) != hookline.EINVALID || !strings.HasPrefix(hookline.ErrorMessage(err), "filter") {
				t.Fatalf("Compile(%q): %v", src, err)
			}
			return
		}
		doc := filter.NewDoc("t", "acme", json.RawMessage(data))
		a := flt.Match(doc)
		if b := flt.Match(filter.NewDoc("t", "acme", json.RawMessage(data))); a != b {
			t.Fatalf("Match of %q on %q: %v, then %v", src, data, a, b)
		}
	})
}
