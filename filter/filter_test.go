package filter_test

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/hookline/hookline"
	"github.com/hookline/hookline/filter"
)

func mustCompile(t *testing.T, src string) *filter.Filter {
	t.Helper()
	f, err := filter.Compile("filter", json.RawMessage(src))
	if err != nil {
		t.Fatalf("Compile(%s): %v", src, err)
	}
	return f
}

var invoice = filter.NewDoc("invoice.paid", "acme", json.RawMessage(`{
	"amount": 1500, "currency": "EUR", "paid_at": "2025-03-01T10:00:00Z", "note": null,
	"tags": ["billing", "urgent"], "big": 12345678901234567890,
	"customer": {"id": "cus_1", "country": "DE", "vip": true},
	"items": [{"sku": "A", "qty": 2}, {"sku": "B", "qty": 1}]}`))

func TestMatch(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		filter string
		want   bool
	}{
		{`{}`, true},
		{`null`, true},
		{`{"type": "invoice.paid"}`, true},
		{`{"type": "invoice.failed"}`, false},
		{`{"tenant": {"$in": ["acme", "globex"]}}`, true},
		{`{"data": {"amount": {"$gte": 1000}, "currency": {"$in": ["EUR", "USD"]}}}`, true},
		{`{"data": {"amount": {"$gte": 1000, "$lt": 1500}}}`, false},
		{`{"data": {"amount": 1500.0}}`, true},
		{`{"data": {"amount": {"$eq": 15e2}}}`, true},
		{`{"data": {"amount": {"$neq": 1500}}}`, false},
		{`{"data": {"amount": {"$gt": "1000"}}}`, false}, // a number is not compared with a string
		{`{"data": {"big": {"$gt": 12345678901234567889}}}`, true},
		{`{"data": {"big": 12345678901234567891}}`, false},
		{`{"data": {"paid_at": {"$gte": "2025-01-01T00:00:00Z", "$lt": "2026-01-01T00:00:00Z"}}}`, true},
		{`{"data": {"customer": {"country": "DE", "vip": true}}}`, true},
		{`{"data": {"customer": {"country": {"$nin": ["DE", "AT"]}}}}`, false},
		{`{"data": {"tags": "urgent"}}`, true},
		{`{"data": {"tags": ["billing", "urgent"]}}`, true},
		{`{"data": {"tags": {"$in": ["urgent", "x"]}}}`, true},
		{`{"data": {"tags": {"$nin": ["urgent"]}}}`, false},
		{`{"data": {"tags": {"$neq": "other"}}}`, true},
		{`{"data": {"items": {"sku": "B", "qty": {"$lt": 2}}}}`, true},
		{`{"data": {"items": {"sku": "B", "qty": 2}}}`, false},
		{`{"data": {"note": {"$exists": true}}}`, true},
		{`{"data": {"note": null}}`, true},
		{`{"data": {"missing": {"$exists": false}}}`, true},
		{`{"data": {"missing": {"$exists": true}}}`, false},
		{`{"data": {"missing": {"$neq": 1}}}`, true},
		{`{"data": {"missing": {"$nin": [1]}}}`, true},
		{`{"data": {"missing": null}}`, false},
		{`{"data": {"amount": {"$not": {"$gt": 2000}}}}`, true},
		{`{"$or": [{"type": "x"}, {"data": {"currency": "EUR"}}]}`, true},
		{`{"$or": [{"type": "x"}, {"data": {"currency": "USD"}}]}`, false},
		{`{"$and": [{"type": "invoice.paid"}, {"data": {"currency": "USD"}}]}`, false},
		{`{"$not": {"data": {"customer": {"vip": true}}}}`, false},
		{`{"data": {"$or": [{"amount": 1}, {"customer": {"id": "cus_1"}}]}}`, true},
		{`{"data": {"customer": {"id": {"$in": []}}}}`, false},
	} {
		if got := mustCompile(t, c.filter).Match(invoice); got != c.want {
			t.Errorf("%s: %v, want %v", c.filter, got, c.want)
		}
	}
}

func TestMatchDataNotAnObject(t *testing.T) {
	t.Parallel()
	doc := filter.NewDoc("a", "", json.RawMessage(`[1, 2, 3]`))
	if !mustCompile(t, `{"data": 2}`).Match(doc) {
		t.Error("an array datum holding 2 does not match 2")
	}
	if mustCompile(t, `{"data": {"x": 1}}`).Match(doc) {
		t.Error("a field of an array of numbers matched")
	}
	empty := filter.NewDoc("a", "", nil)
	if !mustCompile(t, `{"data": {"$exists": false}}`).Match(empty) || mustCompile(t, `{"data": {"$exists": true}}`).Match(empty) {
		t.Error("absent data")
	}
}

func TestCompileErrors(t *testing.T) {
	t.Parallel()
	deep := strings.Repeat(`{"a":`, 20) + `1` + strings.Repeat(`}`, 20)
	many := `{"data": {"x": {"$in": [` + strings.Repeat(`1,`, 300) + `1]}}}`
	for _, c := range []struct{ filter, msg string }{
		{`[]`, "filter: must be an object of fields"},
		{`"x"`, "filter: must be an object of fields"},
		{`{"id": "x"}`, "filter.id: unknown field"},
		{`{"data": {"amount": {"$gte": true}}}`, "filter.data.amount.$gte: must be a number or a string"},
		{`{"data": {"amount": {"$between": [1, 2]}}}`, "filter.data.amount.$between: unknown operator"},
		{`{"data": {"amount": {"$gt": 1, "x": 2}}}`, "filter.data.amount: mixes operators and field names"},
		{`{"data": {"x": {"$in": 1}}}`, "filter.data.x.$in: must be an array"},
		{`{"data": {"x": {"$exists": 1}}}`, "filter.data.x.$exists: must be true or false"},
		{`{"data": {"x": {"$not": 1}}}`, "filter.data.x.$not: must be an object of operators"},
		{`{"data": {"x": {"$not": {"y": 1}}}}`, "filter.data.x.$not: must be an object of operators"},
		{`{"$or": []}`, "filter.$or: must be a non-empty array of filters"},
		{`{"$or": [1]}`, "filter.$or[0]: must be an object of fields"},
		{`{"$and": [{"nope": 1}]}`, "filter.$and[0].nope: unknown field"},
		{`{"$where": "1"}`, "filter.$where: unknown operator here"},
		{`{"data": {"": 1}}`, "filter.data.: a field name cannot be empty"},
		{`{"data": ` + deep + `}`, "nested more than 16 deep"},
		{many, "filter.data.x.$in: at most 256 values"},
		{`{"data": 1} x`, "filter: not valid JSON"},
		{`{"data": ` + strings.Repeat(" ", filter.MaxBytes) + `1}`, "at most 16384 bytes"},
	} {
		_, err := filter.Compile("filter", json.RawMessage(c.filter))
		if hookline.ErrorCode(err) != hookline.EINVALID || !strings.Contains(hookline.ErrorMessage(err), c.msg) {
			t.Errorf("%.80s: %v, want EINVALID with %q", c.filter, err, c.msg)
		}
	}
}

func TestNodeLimit(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString(`{"data": {`)
	for i := range filter.MaxNodes + 1 {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(`"f` + strconv.Itoa(i) + `": 1`)
	}
	b.WriteString(`}}`)
	_, err := filter.Compile("filter", json.RawMessage(b.String()))
	if hookline.ErrorCode(err) != hookline.EINVALID || !strings.Contains(hookline.ErrorMessage(err), "at most 512") {
		t.Fatalf("a filter of %d fields: %v", filter.MaxNodes+1, err)
	}
}

// TestDataDecodedOnce checks that a document's data is decoded once for
// many filters: a malformed datum matches no data field, for any of them.
func TestDataDecodedOnce(t *testing.T) {
	t.Parallel()
	doc := filter.NewDoc("a", "", json.RawMessage(`{"x": 1`))
	for range 3 {
		if mustCompile(t, `{"data": {"x": {"$exists": true}}}`).Match(doc) {
			t.Fatal("malformed data matched")
		}
	}
	if !mustCompile(t, `{"type": "a"}`).Match(doc) {
		t.Fatal("a filter on type only does not match malformed data")
	}
}

func BenchmarkMatch(b *testing.B) {
	f, err := filter.Compile("filter", json.RawMessage(`{"data": {"amount": {"$gte": 1000}, "currency": {"$in": ["EUR", "USD"]}}}`))
	if err != nil {
		b.Fatal(err)
	}
	data := json.RawMessage(`{"amount": 1500, "currency": "EUR", "customer": {"id": "cus_1"}}`)
	b.Run("decode+match", func(b *testing.B) {
		for b.Loop() {
			f.Match(filter.NewDoc("invoice.paid", "acme", data))
		}
	})
	b.Run("match", func(b *testing.B) {
		doc := filter.NewDoc("invoice.paid", "acme", data)
		f.Match(doc)
		for b.Loop() {
			f.Match(doc)
		}
	})
}
