// Package jsonsafe encodes JSON whatever numbers the value holds: NaN and
// ±Inf, which encoding/json refuses, become null, and the fields so
// replaced are named, so that a bad number read from a file or computed
// from it is a warning rather than an answer that cannot be written.
package jsonsafe

import (
	"encoding"
	"encoding/json"
	"errors"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
)

// Marshal is json.Marshal, except that non-finite floats are encoded as
// null; replaced lists the paths of those values ("game.score",
// "analytics.CH1.mpf", "x[3]"), sorted, nil when there were none. Values
// without such floats are encoded exactly as json.Marshal does.
func Marshal(v any) (b []byte, replaced []string, err error) {
	b, err = json.Marshal(v)
	var uve *json.UnsupportedValueError
	if err == nil || !errors.As(err, &uve) {
		return b, nil, err
	}
	w := walker{}
	tree := w.value(reflect.ValueOf(v), "", 0)
	b, err = json.Marshal(tree)
	sort.Strings(w.paths)
	return b, w.paths, err
}

// Warnings phrases replaced paths as warnings ("what: field game.score was
// not a finite number; null instead").
func Warnings(what string, replaced []string) []string {
	out := make([]string, 0, len(replaced))
	for _, p := range replaced {
		out = append(out, what+": field "+p+" was not a finite number; null instead")
	}
	return out
}

type walker struct{ paths []string }

var (
	marshalerType     = reflect.TypeFor[json.Marshaler]()
	textMarshalerType = reflect.TypeFor[encoding.TextMarshaler]()
)

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// value turns v into a tree of map[string]any, []any and plain values
// that encoding/json encodes as it would encode v.
func (w *walker) value(v reflect.Value, path string, depth int) any {
	if !v.IsValid() || depth > 200 {
		return nil
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface, reflect.Map, reflect.Slice:
		if v.IsNil() {
			return nil
		}
	}
	if v.Kind() != reflect.Interface && v.CanInterface() {
		if v.Type().Implements(marshalerType) {
			if b, err := v.Interface().(json.Marshaler).MarshalJSON(); err == nil {
				return json.RawMessage(b)
			}
			// It refused (a NaN inside, say): encode its structure.
		} else if v.Type().Implements(textMarshalerType) {
			if b, err := v.Interface().(encoding.TextMarshaler).MarshalText(); err == nil {
				return string(b)
			}
		}
	}
	switch v.Kind() {
	case reflect.Float32:
		f := v.Float()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			w.paths = append(w.paths, path)
			return nil
		}
		return float32(f)
	case reflect.Float64:
		f := v.Float()
		if math.IsNaN(f) || math.IsInf(f, 0) {
			w.paths = append(w.paths, path)
			return nil
		}
		return f
	case reflect.Bool:
		return v.Bool()
	case reflect.String:
		return v.String()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return v.Int()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return v.Uint()
	case reflect.Pointer, reflect.Interface:
		return w.value(v.Elem(), path, depth+1)
	case reflect.Slice, reflect.Array:
		if v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.Uint8 {
			return v.Bytes()
		}
		out := make([]any, v.Len())
		for i := range out {
			out[i] = w.value(v.Index(i), path+"["+strconv.Itoa(i)+"]", depth+1)
		}
		return out
	case reflect.Map:
		out := make(map[string]any, v.Len())
		iter := v.MapRange()
		for iter.Next() {
			k := mapKey(iter.Key())
			out[k] = w.value(iter.Value(), join(path, k), depth+1)
		}
		return out
	case reflect.Struct:
		out := &object{vals: map[string]any{}}
		w.fields(v, path, depth, out)
		return out
	}
	return nil // channels, functions, complex numbers: json refuses them anyway
}

func mapKey(k reflect.Value) string {
	if k.Kind() == reflect.String {
		return k.String()
	}
	if k.CanInterface() && k.Type().Implements(textMarshalerType) {
		if b, err := k.Interface().(encoding.TextMarshaler).MarshalText(); err == nil {
			return string(b)
		}
	}
	switch k.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.FormatInt(k.Int(), 10)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return strconv.FormatUint(k.Uint(), 10)
	}
	return ""
}

// fields adds a struct's fields as encoding/json names them: the json tag's
// name, "-" left out, omitempty and omitzero honoured, embedded structs'
// fields promoted unless an outer field has the name.
func (w *walker) fields(v reflect.Value, path string, depth int, out *object) {
	t := v.Type()
	var embedded []reflect.Value
	var embeddedAt []int
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		tag := sf.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		fv := v.Field(i)
		if sf.Anonymous && name == "" {
			ft := sf.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				if fv.Kind() == reflect.Pointer {
					if fv.IsNil() {
						continue
					}
					fv = fv.Elem()
				}
				embedded, embeddedAt = append(embedded, fv), append(embeddedAt, i)
				continue
			}
		}
		if !sf.IsExported() {
			continue
		}
		if name == "" {
			name = sf.Name
		}
		if hasOpt(opts, "omitempty") && isEmpty(fv) || hasOpt(opts, "omitzero") && isZero(fv) {
			continue
		}
		out.set(name, w.value(fv, join(path, name), depth+1), i)
	}
	for e, ev := range embedded {
		inner := &object{vals: map[string]any{}}
		w.fields(ev, path, depth+1, inner)
		for _, k := range inner.keys {
			if _, taken := out.vals[k]; !taken {
				out.set(k, inner.vals[k], embeddedAt[e])
			}
		}
	}
}

// object is a struct's fields in their order (encoding/json's, which
// puts an embedded struct's promoted fields where the embedded field is).
type object struct {
	keys []string
	pos  []int // the index of the field each key comes from (of the embedded field for promoted ones)
	vals map[string]any
}

func (o *object) set(k string, v any, pos int) {
	i := len(o.pos)
	for i > 0 && o.pos[i-1] > pos {
		i--
	}
	o.keys = append(o.keys[:i], append([]string{k}, o.keys[i:]...)...)
	o.pos = append(o.pos[:i], append([]int{pos}, o.pos[i:]...)...)
	o.vals[k] = v
}

func (o *object) MarshalJSON() ([]byte, error) {
	b := []byte{'{'}
	for i, k := range o.keys {
		if i > 0 {
			b = append(b, ',')
		}
		kb, err := json.Marshal(k)
		if err != nil {
			return nil, err
		}
		vb, err := json.Marshal(o.vals[k])
		if err != nil {
			return nil, err
		}
		b = append(append(append(b, kb...), ':'), vb...)
	}
	return append(b, '}'), nil
}

func hasOpt(opts, name string) bool {
	for o := range strings.SplitSeq(opts, ",") {
		if o == name {
			return true
		}
	}
	return false
}

func isEmpty(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Array, reflect.Map, reflect.Slice, reflect.String:
		return v.Len() == 0
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Interface, reflect.Pointer:
		return v.IsZero()
	}
	return false
}

func isZero(v reflect.Value) bool {
	if v.CanInterface() {
		if z, ok := v.Interface().(interface{ IsZero() bool }); ok {
			if v.Kind() == reflect.Pointer && v.IsNil() {
				return true
			}
			return z.IsZero()
		}
	}
	return v.IsZero()
}
