// Package eventschema compiles the JSON Schemas of the event type catalog
// and validates event data against them, with errors that name the failing
// path. It uses santhosh-tekuri/jsonschema (JSON Schema 2020-12 by default;
// a schema's "$schema" may name an earlier draft). A schema cannot load
// anything: references to other documents are refused, so a schema can
// neither read local files nor make the server fetch URLs.
package eventschema

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"golang.org/x/text/language"
	"golang.org/x/text/message"

	"github.com/hookline/hookline"
)

// MaxBytes bounds the size of a schema.
const MaxBytes = 64 << 10

// location is the URL a schema is compiled at; references relative to it
// that leave the document are refused by the loader.
const location = "https://schemas.hookline.invalid/event-type.json"

// Schema is a compiled JSON Schema, safe for concurrent use.
type Schema struct{ s *jsonschema.Schema }

// refuse is the loader of every compiler: it loads nothing.
type refuse struct{}

// Load implements jsonschema.URLLoader.
func (refuse) Load(url string) (any, error) {
	return nil, fmt.Errorf("%s: a schema may not refer to other documents", url)
}

var printer = message.NewPrinter(language.English)

// Compile compiles a schema sent in field. A schema that is not valid JSON,
// not an object or boolean, too large, or not a valid schema (against its
// draft's meta-schema) is EINVALID naming field.
func Compile(field string, raw json.RawMessage) (*Schema, error) {
	if len(raw) > MaxBytes {
		return nil, hookline.Errorf(hookline.EINVALID, "%s: at most %d bytes", field, MaxBytes)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, hookline.Errorf(hookline.EINVALID, "%s: not valid JSON", field)
	}
	switch doc.(type) {
	case map[string]any, bool:
	default:
		return nil, hookline.Errorf(hookline.EINVALID, "%s: must be a JSON Schema (an object or a boolean)", field)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.UseLoader(refuse{})
	if err := c.AddResource(location, doc); err != nil {
		return nil, hookline.Errorf(hookline.EINVALID, "%s: %s", field, clean(err.Error()))
	}
	s, err := c.Compile(location)
	if err != nil {
		var sve *jsonschema.SchemaValidationError
		var ve *jsonschema.ValidationError
		if errors.As(err, &sve) && errors.As(sve.Err, &ve) {
			// The schema fails its meta-schema: name where in the schema.
			leaf := first(ve)
			return nil, hookline.Errorf(hookline.EINVALID, "%s: %s", path(field, leaf.InstanceLocation), clean(leaf.ErrorKind.LocalizedString(printer)))
		}
		return nil, hookline.Errorf(hookline.EINVALID, "%s: %s", field, clean(err.Error()))
	}
	return &Schema{s: s}, nil
}

// Validate checks data against the schema. Data that fails is EINVALID
// naming the failing path under field ("data.amount: …").
func (s *Schema) Validate(field string, data json.RawMessage) error {
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return hookline.Errorf(hookline.EINVALID, "%s: not valid JSON", field)
	}
	err = s.s.Validate(inst)
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return hookline.Errorf(hookline.EINVALID, "%s: %s", field, clean(err.Error()))
	}
	leaf := first(ve)
	return hookline.Errorf(hookline.EINVALID, "%s: %s", path(field, leaf.InstanceLocation), clean(leaf.ErrorKind.LocalizedString(printer)))
}

// first returns the first leaf of a validation error: the most specific
// failure.
func first(e *jsonschema.ValidationError) *jsonschema.ValidationError {
	for len(e.Causes) > 0 {
		e = e.Causes[0]
	}
	return e
}

// path returns field followed by the instance location, dotted
// ("data.items.0.sku").
func path(field string, loc []string) string {
	if len(loc) == 0 {
		return field
	}
	return field + "." + strings.Join(loc, ".")
}

// clean bounds a message and strips the library's internal URL from it.
func clean(msg string) string {
	msg = strings.ReplaceAll(msg, location, "schema")
	if len(msg) > 300 {
		msg = msg[:300] + "…"
	}
	return msg
}
