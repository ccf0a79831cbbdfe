package apidoc_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"testing"

	"emgd/internal/apidoc"
)

// A parameter's Enum lists its values in the document's schema.
func TestParamEnum(t *testing.T) {
	m := apidoc.NewMux(apidoc.Info{Title: "t", Version: "1"})
	apidoc.HandleFunc(m, apidoc.Op{Method: "GET", Path: "/l", Params: []apidoc.Param{
		{Name: "status", In: "query", Type: "", Enum: []string{"a", "b"}},
		{Name: "other", In: "query", Type: ""}},
		Responses: []apidoc.Response{{Status: 200, ContentType: "application/json", Type: errorAnswer{}}}}, func(http.ResponseWriter, *http.Request) {})
	b, err := m.Document()
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Paths map[string]map[string]struct {
			Parameters []struct {
				Name   string `json:"name"`
				Schema struct {
					Type string   `json:"type"`
					Enum []string `json:"enum"`
				} `json:"schema"`
			} `json:"parameters"`
		} `json:"paths"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	ps := doc.Paths["/l"]["get"].Parameters
	if len(ps) != 2 || ps[0].Schema.Type != "string" || !slices.Equal(ps[0].Schema.Enum, []string{"a", "b"}) || ps[1].Schema.Enum != nil {
		t.Errorf("parameters %+v", ps)
	}
}
