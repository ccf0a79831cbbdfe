package apidoc

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"time"
)

// Schemaer is a type that describes its own JSON (JSON Schema 2020-12),
// for types with their own MarshalJSON.
type Schemaer interface {
	JSONSchema() map[string]any
}

// String is the Type of a text answer (HTML, CSV, Prometheus text).
var String = ""

var (
	rawMessageType = reflect.TypeFor[json.RawMessage]()
	timeType       = reflect.TypeFor[time.Time]()
	schemaerType   = reflect.TypeFor[Schemaer]()
)

// gen turns Go types into schemas, named struct types into components.
type gen struct {
	components map[string]any
	names      map[reflect.Type]string
	taken      map[string]reflect.Type
}

func newGen() *gen {
	return &gen{components: map[string]any{}, names: map[reflect.Type]string{}, taken: map[string]reflect.Type{}}
}

// Schema is the schema of v's type, with the named struct types it uses in
// components (name -> schema).
func Schema(v any) (schema map[string]any, components map[string]any) {
	g := newGen()
	return g.schemaOf(v), g.components
}

func (g *gen) schemaOf(v any) map[string]any {
	switch v := v.(type) {
	case reflect.Type:
		return g.schema(v)
	case AnyOf:
		var alts []any
		for _, x := range v {
			alts = append(alts, g.schemaOf(x))
		}
		return map[string]any{"anyOf": alts}
	}
	return g.schema(reflect.TypeOf(v))
}

// inline is v's schema, a struct's written out rather than referred to
// (request bodies: a form's fields are read where the route is).
func (g *gen) inline(v any) map[string]any {
	t := reflect.TypeOf(v)
	if t != nil && t.Kind() == reflect.Struct && !t.Implements(schemaerType) {
		// A request's fields are optional unless tagged required:"true"
		// (a decoder takes what is missing as its zero or default).
		props := map[string]any{}
		g.fields(t, props, nil)
		out := map[string]any{"type": "object", "properties": props}
		var required []string
		for i := range t.NumField() {
			f := t.Field(i)
			if f.Tag.Get("required") == "true" {
				name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
				required = append(required, name)
			}
		}
		if len(required) > 0 {
			out["required"] = required
		}
		return out
	}
	return g.schemaOf(v)
}

func (g *gen) schema(t reflect.Type) map[string]any {
	if t == nil {
		return map[string]any{}
	}
	if t.Kind() == reflect.Pointer {
		return nullable(g.schema(t.Elem()))
	}
	if t.Implements(schemaerType) {
		return reflect.Zero(t).Interface().(Schemaer).JSONSchema()
	}
	if t.Kind() != reflect.Pointer && reflect.PointerTo(t).Implements(schemaerType) {
		return reflect.New(t).Interface().(Schemaer).JSONSchema()
	}
	switch t {
	case rawMessageType:
		return map[string]any{"description": "any JSON value"}
	case timeType:
		return map[string]any{"type": "string", "format": "date-time"}
	}
	switch t.Kind() {
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return map[string]any{"type": "integer"}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return map[string]any{"type": "integer", "minimum": 0}
	case reflect.Float32, reflect.Float64:
		// emgd answers a non-finite number as null rather than fail.
		return map[string]any{"type": []any{"number", "null"}}
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Interface:
		return map[string]any{}
	case reflect.Slice, reflect.Array:
		if t.Elem().Kind() == reflect.Uint8 {
			return map[string]any{"type": "string", "contentEncoding": "base64"}
		}
		return map[string]any{"type": "array", "items": g.schema(t.Elem())}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": g.schema(t.Elem())}
	case reflect.Struct:
		if t.Name() == "" {
			return g.object(t)
		}
		name, ok := g.names[t]
		if !ok {
			name = g.name(t)
			g.names[t] = name
			g.components[name] = map[string]any{} // recursion guard
			g.components[name] = g.object(t)
		}
		return map[string]any{"$ref": "#/components/schemas/" + name}
	}
	return map[string]any{}
}

// name is t's component name: its Go name, with its package's in front
// when another package has a type of that name.
func (g *gen) name(t reflect.Type) string {
	name := t.Name()
	if i := strings.IndexByte(name, '['); i >= 0 { // generic instance
		name = name[:i]
	}
	if other, ok := g.taken[name]; ok && other != t {
		pkg := t.PkgPath()
		pkg = pkg[strings.LastIndexByte(pkg, '/')+1:]
		name = pkg + "." + name
	}
	g.taken[name] = t
	return name
}

func nullable(s map[string]any) map[string]any {
	if typ, ok := s["type"].(string); ok && len(s) <= 2 {
		out := map[string]any{}
		for k, v := range s {
			out[k] = v
		}
		out["type"] = []any{typ, "null"}
		return out
	}
	if typ, ok := s["type"].([]any); ok {
		for _, x := range typ {
			if x == "null" {
				return s
			}
		}
	}
	if len(s) == 0 || (len(s) == 1 && s["description"] != nil) {
		return s // any value, null included
	}
	return map[string]any{"anyOf": []any{s, map[string]any{"type": "null"}}}
}

// object is a struct's schema as encoding/json writes it: exported fields
// by their json names, embedded structs' fields in line, omitempty fields
// optional, the rest required. Tags: doc:"..." describes a field,
// nullable:"true" allows null (a nil slice or map), enum:"a,b" lists its
// values.
func (g *gen) object(t reflect.Type) map[string]any {
	props := map[string]any{}
	var required []string
	g.fields(t, props, &required)
	out := map[string]any{"type": "object", "properties": props}
	if len(required) > 0 {
		slices.Sort(required)
		out["required"] = required
	}
	return out
}

// fields adds t's fields to props. A struct's own fields hide those of the
// structs it embeds (as in encoding/json); the fields of an embedded
// pointer are optional (a nil pointer writes none).
func (g *gen) fields(t reflect.Type, props map[string]any, required *[]string) {
	type embedded struct {
		t        reflect.Type
		optional bool
	}
	var inline []embedded
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			ft := f.Type
			ptr := ft.Kind() == reflect.Pointer
			if ptr {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				inline = append(inline, embedded{ft, ptr})
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		s := g.schema(f.Type)
		if f.Tag.Get("nullable") == "true" {
			s = nullable(s)
		}
		if e := f.Tag.Get("enum"); e != "" {
			var vals []any
			for v := range strings.SplitSeq(e, ",") {
				vals = append(vals, v)
			}
			if typ, ok := s["type"].([]any); ok && len(typ) == 2 && typ[1] == "null" {
				vals = append(vals, nil)
			}
			s = withKey(s, "enum", vals)
		}
		if d := f.Tag.Get("doc"); d != "" {
			s = withKey(s, "description", d)
		}
		props[name] = s
		if required != nil && !strings.Contains(opts, "omitempty") && !strings.Contains(opts, "omitzero") {
			*required = append(*required, name)
		}
	}
	for _, e := range inline {
		sub := map[string]any{}
		var req []string
		g.fields(e.t, sub, &req)
		for name, s := range sub {
			if _, hidden := props[name]; !hidden {
				props[name] = s
				if !e.optional && required != nil && slices.Contains(req, name) {
					*required = append(*required, name)
				}
			}
		}
	}
}

func withKey(s map[string]any, k string, v any) map[string]any {
	if _, ref := s["$ref"]; ref {
		return map[string]any{"allOf": []any{s}, k: v}
	}
	out := map[string]any{k: v}
	for key, val := range s {
		if key != k {
			out[key] = val
		}
	}
	return out
}

// Binary is the Type of a file in a multipart form.
type Binary struct{}

// JSONSchema implements Schemaer.
func (Binary) JSONSchema() map[string]any {
	return map[string]any{"type": "string", "format": "binary"}
}
