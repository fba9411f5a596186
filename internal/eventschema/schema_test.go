package eventschema

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/hookline/hookline"
)

const invoice = `{"type":"object","required":["amount"],"properties":{
	"amount":{"type":"integer","minimum":0},
	"items":{"type":"array","items":{"type":"object","required":["sku"]}}}}`

func TestValidate(t *testing.T) {
	s, err := Compile("schema", json.RawMessage(invoice))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ data, want string }{
		{`{"amount":5}`, ""},
		{`{"amount":5,"items":[{"sku":"a"}]}`, ""},
		{`{}`, "data: missing property 'amount'"},
		{`{"amount":-1}`, "data.amount: minimum"},
		{`{"amount":"5"}`, "data.amount: got string, want integer"},
		{`{"amount":1,"items":[{"sku":"a"},{}]}`, "data.items.1: missing property 'sku'"},
		{`[1]`, "data: got array, want object"},
	} {
		err := s.Validate("data", json.RawMessage(tc.data))
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v", tc.data, err)
		case tc.want != "" && (hookline.ErrorCode(err) != hookline.EINVALID || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: error %v, want EINVALID containing %q", tc.data, err, tc.want)
		}
	}
}

func TestCompileInvalid(t *testing.T) {
	for _, tc := range []struct{ schema, want string }{
		{`{`, "schema: not valid JSON"},
		{`12`, "schema: must be a JSON Schema"},
		{`{"type":"nothing"}`, "schema.type"},
		{`{"minimum":"x"}`, "schema.minimum"},
		{`{"$ref":"file:///etc/passwd"}`, "may not refer to other documents"},
		{`{"$ref":"https://example.com/s.json"}`, "may not refer to other documents"},
		{`"` + strings.Repeat("a", MaxBytes) + `"`, "at most"},
	} {
		_, err := Compile("schema", json.RawMessage(tc.schema))
		if hookline.ErrorCode(err) != hookline.EINVALID || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%.40s: error %v, want EINVALID containing %q", tc.schema, err, tc.want)
		}
	}
	// Booleans and older drafts compile.
	for _, ok := range []string{`true`, `{"$schema":"http://json-schema.org/draft-07/schema#","type":"object"}`} {
		if _, err := Compile("schema", json.RawMessage(ok)); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
}
