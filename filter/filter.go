// Package filter is the payload filter language of endpoints: a JSON object
// matched against an event, seen as the document
//
//	{"type": "invoice.paid", "tenant": "acme", "data": {...}}
//
// A filter names fields and what their values must be, with operators in
// the manner of MongoDB's:
//
//	{"data": {"amount": {"$gte": 1000}, "currency": {"$in": ["EUR", "USD"]}}}
//
// An object whose keys do not start with "$" names fields, nested to any
// depth (so "data.amount" above is the amount of the event's data); every
// field it names must match. A value that is not an object is compared for
// equality. An object of "$" keys is a set of operators, all of which must
// hold:
//
//	$eq, $neq            equal, not equal (any JSON value; numbers by value)
//	$gt, $gte, $lt, $lte greater/less than: numbers with numbers, strings with
//	                     strings (byte order, which orders RFC 3339 times);
//	                     values of other types never match
//	$in, $nin            one of, none of (an array of at most 256 values)
//	$exists              true: the field is present (null counts); false: absent
//	$not                 an object of operators that must not hold
//
// At any level of fields, "$and" and "$or" take an array of filters and
// "$not" a filter. When the value of a field is an array, an operator holds
// when it holds for the array itself or, but for $exists, for one of its
// elements (so {"tags": "urgent"} matches ["billing", "urgent"]), and
// nested fields match when one element, an object, has them; $neq and $nin
// hold when no element is equal.
//
// A filter is compiled once (Compile) and matched many times; matching
// decodes the event's data once per event (Doc), whatever the number of
// filters.
package filter

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strconv"
	"strings"

	"github.com/hookline/hookline"
)

// Limits of a filter, so that one cannot cost much to compile or match.
const (
	MaxBytes = 16 << 10 // the filter's JSON text
	MaxDepth = 16       // nesting of objects and arrays
	MaxNodes = 512      // fields, operators and values, all told
	MaxIn    = 256      // values of one $in or $nin
)

// Filter is a compiled filter. The zero value and nil match every event.
type Filter struct {
	root *group
}

// node is one condition of a filter.
type node interface {
	match(v any, present bool) bool
}

// group is a set of conditions that must all hold: a filter at one level
// of fields.
type group struct {
	fields []field // each names a key of the value at this level
	and    []*group
	or     []*group
	not    []*group
}

// field is a condition on the value of one key.
type field struct {
	name string
	cond node
}

// ops is a set of operators on one value, all of which must hold.
type ops []op

// op is one operator and its operand.
type op struct {
	name    string
	operand any   // a decoded JSON value
	list    []any // of $in, $nin
	exists  bool  // of $exists
	not     ops   // of $not
}

// Compile parses and checks the filter raw (a JSON object). Its errors are
// *hookline.Error with code EINVALID, and name the path in the filter that
// is wrong, under field (e.g. "filter.data.amount.$gte: must be a number or
// a string"). A null or empty raw compiles to nil, which matches every
// event.
func Compile(field string, raw json.RawMessage) (*Filter, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	if len(raw) > MaxBytes {
		return nil, hookline.Errorf(hookline.EINVALID, "%s: at most %d bytes", field, MaxBytes)
	}
	v, err := decode(raw)
	if err != nil {
		return nil, hookline.Errorf(hookline.EINVALID, "%s: not valid JSON: %v", field, err)
	}
	c := &compiler{}
	g, err := c.group(field, v, 1, true)
	if err != nil {
		return nil, err
	}
	return &Filter{root: g}, nil
}

// Stored compiles a filter read back from a store, which was checked when
// it was saved. One that no longer compiles (a store edited by hand, a
// limit lowered since) matches no event rather than every one.
func Stored(raw json.RawMessage) *Filter {
	f, err := Compile("filter", raw)
	if err != nil {
		return &Filter{root: &group{not: []*group{{}}}} // not(true): nothing
	}
	return f
}

// decode reads one JSON value with numbers kept as json.Number.
func decode(raw []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(raw))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	if d.More() {
		return nil, errors.New("text after the value")
	}
	return v, nil
}

// compiler counts what a filter holds while it is compiled.
type compiler struct{ nodes int }

func (c *compiler) count(path string) error {
	if c.nodes++; c.nodes > MaxNodes {
		return hookline.Errorf(hookline.EINVALID, "%s: a filter holds at most %d fields, operators and values", path, MaxNodes)
	}
	return nil
}

func invalid(path, format string, args ...any) error {
	return hookline.Errorf(hookline.EINVALID, "%s: %s", path, fmt.Sprintf(format, args...))
}

// group compiles an object of fields and logical operators at path. top
// is true for the filter itself, whose fields are those of the document.
func (c *compiler) group(path string, v any, depth int, top bool) (*group, error) {
	if depth > MaxDepth {
		return nil, invalid(path, "nested more than %d deep", MaxDepth)
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, invalid(path, "must be an object of fields")
	}
	g := &group{}
	for _, k := range sortedKeys(obj) {
		p := path + "." + k
		if err := c.count(p); err != nil {
			return nil, err
		}
		val := obj[k]
		switch {
		case k == "$and" || k == "$or":
			arr, ok := val.([]any)
			if !ok || len(arr) == 0 {
				return nil, invalid(p, "must be a non-empty array of filters")
			}
			for i, f := range arr {
				sub, err := c.group(fmt.Sprintf("%s[%d]", p, i), f, depth+1, top)
				if err != nil {
					return nil, err
				}
				if k == "$and" {
					g.and = append(g.and, sub)
				} else {
					g.or = append(g.or, sub)
				}
			}
		case k == "$not":
			sub, err := c.group(p, val, depth+1, top)
			if err != nil {
				return nil, err
			}
			g.not = append(g.not, sub)
		case strings.HasPrefix(k, "$"):
			return nil, invalid(p, "unknown operator here; fields take $eq, $neq, $gt, $gte, $lt, $lte, $in, $nin, $exists and $not, and $and, $or and $not combine filters")
		case k == "":
			return nil, invalid(p, "a field name cannot be empty")
		default:
			if top && k != "type" && k != "tenant" && k != "data" {
				return nil, invalid(p, "unknown field; a filter matches the event's type, tenant and data")
			}
			cond, err := c.cond(p, val, depth+1)
			if err != nil {
				return nil, err
			}
			g.fields = append(g.fields, field{name: k, cond: cond})
		}
	}
	return g, nil
}

// cond compiles what the value of a field must be: nested fields, a set
// of operators, or a value it must equal.
func (c *compiler) cond(path string, v any, depth int) (node, error) {
	if depth > MaxDepth {
		return nil, invalid(path, "nested more than %d deep", MaxDepth)
	}
	obj, ok := v.(map[string]any)
	if !ok {
		if err := c.value(path, v, depth); err != nil {
			return nil, err
		}
		return ops{{name: "$eq", operand: v}}, nil
	}
	nOps := 0
	for k := range obj {
		if strings.HasPrefix(k, "$") && k != "$and" && k != "$or" {
			nOps++
		}
	}
	switch {
	case nOps == 0:
		return c.group(path, obj, depth, false)
	case nOps < len(obj):
		return nil, invalid(path, "mixes operators and field names; nest the fields, or use $and")
	}
	return c.ops(path, obj, depth)
}

// ops compiles an object of operators.
func (c *compiler) ops(path string, obj map[string]any, depth int) (ops, error) {
	var out ops
	for _, k := range sortedKeys(obj) {
		p := path + "." + k
		if err := c.count(p); err != nil {
			return nil, err
		}
		val := obj[k]
		o := op{name: k}
		switch k {
		case "$eq", "$neq":
			if err := c.value(p, val, depth+1); err != nil {
				return nil, err
			}
			o.operand = val
		case "$gt", "$gte", "$lt", "$lte":
			switch val.(type) {
			case json.Number, string:
			default:
				return nil, invalid(p, "must be a number or a string")
			}
			o.operand = val
		case "$in", "$nin":
			arr, ok := val.([]any)
			if !ok {
				return nil, invalid(p, "must be an array of values")
			}
			if len(arr) > MaxIn {
				return nil, invalid(p, "at most %d values", MaxIn)
			}
			for i, x := range arr {
				if err := c.value(fmt.Sprintf("%s[%d]", p, i), x, depth+1); err != nil {
					return nil, err
				}
			}
			o.list = arr
		case "$exists":
			b, ok := val.(bool)
			if !ok {
				return nil, invalid(p, "must be true or false")
			}
			o.exists = b
		case "$not":
			inner, ok := val.(map[string]any)
			if !ok || len(inner) == 0 {
				return nil, invalid(p, "must be an object of operators")
			}
			for ik := range inner {
				if !strings.HasPrefix(ik, "$") || ik == "$and" || ik == "$or" {
					return nil, invalid(p, "must be an object of operators ($eq, $gt, $in, ...)")
				}
			}
			sub, err := c.ops(p, inner, depth+1)
			if err != nil {
				return nil, err
			}
			o.not = sub
		default:
			return nil, invalid(p, "unknown operator; use $eq, $neq, $gt, $gte, $lt, $lte, $in, $nin, $exists or $not")
		}
		out = append(out, o)
	}
	return out, nil
}

// value checks a literal value of a filter: its depth and size.
func (c *compiler) value(path string, v any, depth int) error {
	if depth > MaxDepth {
		return invalid(path, "nested more than %d deep", MaxDepth)
	}
	switch x := v.(type) {
	case []any:
		for i, e := range x {
			if err := c.count(path); err != nil {
				return err
			}
			if err := c.value(fmt.Sprintf("%s[%d]", path, i), e, depth+1); err != nil {
				return err
			}
		}
	case map[string]any:
		for _, k := range sortedKeys(x) {
			if err := c.count(path); err != nil {
				return err
			}
			if err := c.value(path+"."+k, x[k], depth+1); err != nil {
				return err
			}
		}
	}
	return nil
}

// Doc is an event as filters see it. Its data is decoded on the first
// match that needs it, once for every filter matched against it.
type Doc struct {
	Type, Tenant string
	Data         json.RawMessage

	decoded bool
	data    any
	bad     bool // the data is not JSON: no data field matches
}

// Docs keeps the document of each event of an ingest, so that its data is
// decoded once however many endpoints' filters look at it. The zero value
// is ready to use; a Docs is not safe for concurrent use.
type Docs struct{ m map[*hookline.Event]*Doc }

// Of returns the document of ev.
func (ds *Docs) Of(ev *hookline.Event) *Doc {
	if d, ok := ds.m[ev]; ok {
		return d
	}
	if ds.m == nil {
		ds.m = make(map[*hookline.Event]*Doc)
	}
	d := NewDoc(ev.Type, ev.Tenant, ev.Data)
	ds.m[ev] = d
	return d
}

// NewDoc returns the document of an event.
func NewDoc(typ, tenant string, data json.RawMessage) *Doc {
	return &Doc{Type: typ, Tenant: tenant, Data: data}
}

// Match reports whether the event of d matches f. A nil f matches every
// event.
func (f *Filter) Match(d *Doc) bool {
	if f == nil || f.root == nil {
		return true
	}
	return f.root.matchDoc(d)
}

// matchDoc matches the top level of a filter: fields of the document.
func (g *group) matchDoc(d *Doc) bool {
	for _, fl := range g.fields {
		var v any
		present := true
		switch fl.name {
		case "type":
			v = d.Type
		case "tenant":
			v = d.Tenant
		case "data":
			if !d.decoded {
				d.decoded = true
				var err error
				if d.data, err = decode(d.Data); err != nil {
					d.bad = true
				}
			}
			v, present = d.data, len(d.Data) > 0 && !d.bad
		}
		if !fl.cond.match(v, present) {
			return false
		}
	}
	for _, sub := range g.and {
		if !sub.matchDoc(d) {
			return false
		}
	}
	if len(g.or) > 0 {
		ok := false
		for _, sub := range g.or {
			if sub.matchDoc(d) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	for _, sub := range g.not {
		if sub.matchDoc(d) {
			return false
		}
	}
	return true
}

// match matches a group of fields nested in a field's value v: an object,
// or an array of which one element must match.
func (g *group) match(v any, present bool) bool {
	if arr, ok := v.([]any); ok {
		for _, x := range arr {
			if _, isObj := x.(map[string]any); isObj && g.match(x, true) {
				return true
			}
		}
		return false
	}
	obj, _ := v.(map[string]any)
	for _, fl := range g.fields {
		x, ok := obj[fl.name]
		if !fl.cond.match(x, ok) {
			return false
		}
	}
	for _, sub := range g.and {
		if !sub.match(v, present) {
			return false
		}
	}
	if len(g.or) > 0 {
		ok := false
		for _, sub := range g.or {
			if sub.match(v, present) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	for _, sub := range g.not {
		if sub.match(v, present) {
			return false
		}
	}
	return true
}

// match reports whether every operator holds for v (present tells a null
// value from an absent one).
func (os ops) match(v any, present bool) bool {
	for _, o := range os {
		if !o.match(v, present) {
			return false
		}
	}
	return true
}

func (o *op) match(v any, present bool) bool {
	switch o.name {
	case "$exists":
		return present == o.exists
	case "$not":
		return !o.not.match(v, present)
	case "$neq":
		return !o.anyOf(v, present, func(x any) bool { return equal(x, o.operand) })
	case "$nin":
		return !o.anyOf(v, present, o.in)
	}
	if !present {
		return false
	}
	switch o.name {
	case "$eq":
		return o.anyOf(v, present, func(x any) bool { return equal(x, o.operand) })
	case "$in":
		return o.anyOf(v, present, o.in)
	default: // $gt, $gte, $lt, $lte
		return o.anyOf(v, present, func(x any) bool {
			c, ok := compare(x, o.operand)
			if !ok {
				return false
			}
			switch o.name {
			case "$gt":
				return c > 0
			case "$gte":
				return c >= 0
			case "$lt":
				return c < 0
			default:
				return c <= 0
			}
		})
	}
}

// anyOf reports whether pred holds for v or, when v is an array, for one
// of its elements. An absent value satisfies nothing.
func (o *op) anyOf(v any, present bool, pred func(any) bool) bool {
	if !present {
		return false
	}
	if pred(v) {
		return true
	}
	if arr, ok := v.([]any); ok {
		for _, x := range arr {
			if pred(x) {
				return true
			}
		}
	}
	return false
}

// in reports whether x equals one of o's values.
func (o *op) in(x any) bool {
	for _, y := range o.list {
		if equal(x, y) {
			return true
		}
	}
	return false
}

// equal reports whether two decoded JSON values are equal, numbers by
// value.
func equal(a, b any) bool {
	switch x := a.(type) {
	case json.Number:
		y, ok := b.(json.Number)
		if !ok {
			return false
		}
		c, ok := compareNumbers(x, y)
		return ok && c == 0
	case string:
		y, ok := b.(string)
		return ok && x == y
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	case nil:
		return b == nil
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !equal(x[i], y[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, xv := range x {
			yv, ok := y[k]
			if !ok || !equal(xv, yv) {
				return false
			}
		}
		return true
	}
	return false
}

// compare orders two values of the same kind, numbers or strings; ok is
// false for any other pair.
func compare(a, b any) (c int, ok bool) {
	switch x := a.(type) {
	case json.Number:
		if y, ok := b.(json.Number); ok {
			return compareNumbers(x, y)
		}
	case string:
		if y, ok := b.(string); ok {
			return strings.Compare(x, y), true
		}
	}
	return 0, false
}

// compareNumbers orders two JSON numbers exactly: as int64 when both are
// integers that fit, else as arbitrary-precision decimals.
func compareNumbers(a, b json.Number) (int, bool) {
	if x, err := strconv.ParseInt(string(a), 10, 64); err == nil {
		if y, err := strconv.ParseInt(string(b), 10, 64); err == nil {
			switch {
			case x < y:
				return -1, true
			case x > y:
				return 1, true
			}
			return 0, true
		}
	}
	x, ok1 := new(big.Float).SetPrec(256).SetString(string(a))
	y, ok2 := new(big.Float).SetPrec(256).SetString(string(b))
	if !ok1 || !ok2 {
		return 0, false
	}
	return x.Cmp(y), true
}

// sortedKeys returns the keys of m in order, so that errors are the same
// from one call to the next.
func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
