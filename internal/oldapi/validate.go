package oldapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"mime"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ValidationErrorResponse is FastAPI's 422 answer to a request its models
// refuse.
type ValidationErrorResponse struct {
	Detail []ValidationError `json:"detail"`
}

// ValidationError is one refused value, as pydantic 2 describes it.
type ValidationError struct {
	// Type is pydantic's error type: missing, string_type,
	// string_too_long, float_type, float_parsing, greater_than_equal,
	// less_than_equal, value_error, int_parsing, json_invalid,
	// model_attributes_type.
	Type string `json:"type"`
	// Loc is where the value is: "body", "query" or "path", then a field
	// name (a string) or, for json_invalid, the character offset (an
	// integer).
	Loc []any  `json:"loc"`
	Msg string `json:"msg"`
	// Input is the refused value (the whole body for a missing field).
	Input json.RawMessage `json:"input"`
	Ctx   *ErrorContext   `json:"ctx,omitempty"`
}

// ErrorContext holds the limit a value broke.
type ErrorContext struct {
	MaxLength *int     `json:"max_length,omitempty"`
	Ge        *float64 `json:"ge,omitempty"`
	Le        *float64 `json:"le,omitempty"`
	// Error is {} for value_error and the JSON decoder's message for
	// json_invalid.
	Error json.RawMessage `json:"error,omitempty"`
}

func rawString(s string) json.RawMessage {
	b, _ := json.Marshal(s)
	return b
}

var rawNull = json.RawMessage("null")

// parseBody reads a JSON request body as FastAPI does for a required model
// body: absent or null is "missing", undecodable JSON is json_invalid, a
// non-JSON content type or a value other than an object is
// model_attributes_type. It returns the object's members (the last of
// duplicates) and the compacted body.
func parseBody(contentType string, body []byte) (map[string]json.RawMessage, json.RawMessage, []ValidationError) {
	missing := []ValidationError{{Type: "missing", Loc: []any{"body"}, Msg: "Field required", Input: rawNull}}
	if len(body) == 0 {
		return nil, nil, missing
	}
	notObject := func(input json.RawMessage) []ValidationError {
		return []ValidationError{{Type: "model_attributes_type", Loc: []any{"body"},
			Msg: "Input should be a valid dictionary or object to extract fields from", Input: input}}
	}
	if contentType != "" {
		mt, _, err := mime.ParseMediaType(contentType)
		if err != nil || !(mt == "application/json" || strings.HasSuffix(mt, "+json")) {
			if !utf8.Valid(body) {
				return nil, nil, notObject(rawString(strings.ToValidUTF8(string(body), "\uFFFD")))
			}
			return nil, nil, notObject(rawString(string(body)))
		}
	}
	var v json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&v); err != nil {
		var se *json.SyntaxError
		pos := int64(len(body))
		if errors.As(err, &se) {
			pos = se.Offset
			if pos > 0 && strings.Contains(err.Error(), "invalid character") {
				pos-- // the offending character's position
			}
		}
		msg := "Expecting value"
		switch s := err.Error(); {
		case strings.Contains(s, "after object key:value pair"), strings.Contains(s, "after array element"):
			msg = "Expecting ',' delimiter"
		case strings.Contains(s, "after object key"):
			msg = "Expecting ':' delimiter"
		case strings.Contains(s, "object key"):
			msg = "Expecting property name enclosed in double quotes"
		}
		return nil, nil, jsonInvalid(pos, msg)
	}
	if dec.More() {
		rest := body[dec.InputOffset():]
		pos := dec.InputOffset() + int64(len(rest)-len(bytes.TrimLeft(rest, " \t\r\n")))
		return nil, nil, jsonInvalid(pos, "Extra data")
	}
	var compact bytes.Buffer
	json.Compact(&compact, v)
	v = compact.Bytes()
	if string(v) == "null" {
		return nil, nil, missing
	}
	var m map[string]json.RawMessage
	if v[0] != '{' || json.Unmarshal(v, &m) != nil {
		return nil, nil, notObject(v)
	}
	return m, v, nil
}

func jsonInvalid(pos int64, msg string) []ValidationError {
	return []ValidationError{{Type: "json_invalid", Loc: []any{"body", pos}, Msg: "JSON decode error",
		Input: json.RawMessage("{}"), Ctx: &ErrorContext{Error: rawString(msg)}}}
}

// fields validates the members of one model, in its field order.
type fields struct {
	m     map[string]json.RawMessage
	body  json.RawMessage
	errs  []ValidationError
	valid map[string]bool // fields present and valid
}

func (f *fields) fail(name, typ, msg string, input json.RawMessage, ctx *ErrorContext) {
	f.errs = append(f.errs, ValidationError{Type: typ, Loc: []any{"body", name}, Msg: msg, Input: input, Ctx: ctx})
}

// str reads a string field of at most maxLen characters. Absent: required
// fails "missing", else the field is left nil. null: nullable gives nil.
func (f *fields) str(name string, required, nullable bool, maxLen int) *string {
	raw, ok := f.m[name]
	if !ok {
		if required {
			f.fail(name, "missing", "Field required", f.body, nil)
		}
		return nil
	}
	if string(raw) == "null" && nullable {
		f.valid[name] = true
		return nil
	}
	var s string
	if raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
		f.fail(name, "string_type", "Input should be a valid string", raw, nil)
		return nil
	}
	if maxLen > 0 && utf8.RuneCountInString(s) > maxLen {
		f.fail(name, "string_too_long", "String should have at most "+strconv.Itoa(maxLen)+" characters", raw,
			&ErrorContext{MaxLength: &maxLen})
		return nil
	}
	f.valid[name] = true
	return &s
}

var zero, one = 0.0, 1.0

// weight reads a float field in [0, 1] with a default, as pydantic's lax
// mode does: a number, a numeric string or a boolean.
func (f *fields) weight(name string, def float64) float64 {
	raw, ok := f.m[name]
	if !ok {
		return def
	}
	var x float64
	switch c := raw[0]; {
	case c == '"':
		var s string
		json.Unmarshal(raw, &s)
		v, err := parsePyFloat(strings.TrimSpace(s))
		if err != nil {
			f.fail(name, "float_parsing", "Input should be a valid number, unable to parse string as a number", raw, nil)
			return 0
		}
		x = v
	case c == 't':
		x = 1
	case c == 'f':
		x = 0
	case c == '-' || (c >= '0' && c <= '9'):
		v, err := strconv.ParseFloat(string(raw), 64)
		if err != nil && !errors.Is(err, strconv.ErrRange) {
			f.fail(name, "float_parsing", "Input should be a valid number, unable to parse string as a number", raw, nil)
			return 0
		}
		x = v
	default:
		f.fail(name, "float_type", "Input should be a valid number", raw, nil)
		return 0
	}
	if !(x >= 0) {
		f.fail(name, "greater_than_equal", "Input should be greater than or equal to 0", raw, &ErrorContext{Ge: &zero})
		return 0
	}
	if !(x <= 1) {
		f.fail(name, "less_than_equal", "Input should be less than or equal to 1", raw, &ErrorContext{Le: &one})
		return 0
	}
	f.valid[name] = true
	return x
}

// parsePyFloat parses a string as Python's float() does, for the forms a
// client sends: decimal and exponent notation, inf and nan.
func parsePyFloat(s string) (float64, error) {
	if s == "" || strings.ContainsAny(s, "xXpP") {
		return 0, strconv.ErrSyntax
	}
	v, err := strconv.ParseFloat(strings.ReplaceAll(s, "_", ""), 64)
	if errors.Is(err, strconv.ErrRange) {
		err = nil
	}
	return v, err
}

// pyRepr formats a float as Python's repr does (the old validators put
// sums in their messages).
func pyRepr(x float64) string {
	switch {
	case math.IsNaN(x):
		return "nan"
	case math.IsInf(x, 1):
		return "inf"
	case math.IsInf(x, -1):
		return "-inf"
	case x == 0:
		if math.Signbit(x) {
			return "-0.0"
		}
		return "0.0"
	}
	e := strconv.FormatFloat(x, 'e', -1, 64)
	exp, _ := strconv.Atoi(e[strings.IndexByte(e, 'e')+1:])
	if exp < -4 || exp >= 16 {
		return e
	}
	s := strconv.FormatFloat(x, 'f', -1, 64)
	if !strings.Contains(s, ".") {
		s += ".0"
	}
	return s
}
