package upload

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"emgd/internal/jsonsafe"
)

// httpError is an answer other than 200.
type httpError struct {
	code  int
	msg   string
	extra ErrorResponse // error_type, source_filename, c3d_metadata, analytics
	// fields, when set, are the refused form fields as FastAPI lists them:
	// the answer's detail is that list (the old backend's 422).
	fields []FieldError
}

func (e *httpError) Error() string { return e.msg }

func errorf(code int, format string, a ...any) *httpError {
	return &httpError{code: code, msg: fmt.Sprintf(format, a...)}
}

// fieldErrors is the old backend's 422 for refused form fields: detail
// lists each as pydantic does, error sums them up.
func fieldErrors(errs ...FieldError) *httpError {
	msgs := make([]string, len(errs))
	for i, e := range errs {
		name := "body"
		if len(e.Loc) > 1 {
			name = fmt.Sprint(e.Loc[len(e.Loc)-1])
		}
		msgs[i] = name + ": " + e.Msg
	}
	return &httpError{code: http.StatusUnprocessableEntity, msg: strings.Join(msgs, "; "), fields: errs}
}

// missingFile is FastAPI's answer to a request without the file part.
func missingFile() *httpError {
	return fieldErrors(FieldError{Type: "missing", Loc: []any{"body", "file"}, Msg: "Field required", Input: json.RawMessage("null")})
}

// FieldError is one refused form field, as pydantic 2 describes it.
type FieldError struct {
	// Type is pydantic's error type: missing, float_parsing, int_parsing,
	// int_from_float, greater_than_equal, less_than_equal, finite_number.
	Type string `json:"type"`
	// Loc is ["body", field].
	Loc   []any           `json:"loc"`
	Msg   string          `json:"msg"`
	Input json.RawMessage `json:"input"`
	Ctx   map[string]any  `json:"ctx,omitempty"`
}

// Detail is an error's detail: a message, or for refused form fields
// (422) FastAPI's list of them.
type Detail struct {
	msg    string
	fields []FieldError
}

// MarshalJSON writes the list when there is one, else the message.
func (d Detail) MarshalJSON() ([]byte, error) {
	if d.fields != nil {
		return json.Marshal(d.fields)
	}
	return json.Marshal(d.msg)
}

// UnmarshalJSON reads either form (tests decode answers).
func (d *Detail) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '[' {
		return json.Unmarshal(b, &d.fields)
	}
	return json.Unmarshal(b, &d.msg)
}

// JSONSchema: a string, or FastAPI's list of refused fields.
func (Detail) JSONSchema() map[string]any {
	field := map[string]any{"type": "object", "required": []any{"type", "loc", "msg", "input"},
		"properties": map[string]any{
			"type":  map[string]any{"type": "string"},
			"loc":   map[string]any{"type": "array", "items": map[string]any{"type": []any{"string", "integer"}}},
			"msg":   map[string]any{"type": "string"},
			"input": map[string]any{},
			"ctx":   map[string]any{"type": "object"},
		}}
	return map[string]any{"anyOf": []any{map[string]any{"type": "string"}, map[string]any{"type": "array", "items": field}}}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, _, err := jsonsafe.Marshal(v)
	if err != nil {
		code, b = http.StatusUnprocessableEntity, []byte(`{"success":false,"error":"the result could not be encoded as JSON"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	w.Write(append(b, '\n'))
}

func writeError(w http.ResponseWriter, e *httpError) {
	out := e.extra
	out.Success, out.Error, out.Detail = false, e.msg, Detail{msg: e.msg, fields: e.fields}
	if out.Message == "" {
		out.Message = e.msg
	}
	writeJSON(w, e.code, out)
}
