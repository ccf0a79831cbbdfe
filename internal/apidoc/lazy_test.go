package apidoc

import (
	"bytes"
	"net/http"
	"testing"
)

// Registering routes builds nothing: the document is built on the first
// request for it (emgd's start-up budget), and again after routes change.
func TestDocumentBuiltLazily(t *testing.T) {
	m := NewMux(Info{Title: "t", Version: "1"})
	op := Op{Method: "GET", Path: "/a", Responses: []Response{{Status: 200, ContentType: "text/plain", Type: String}}}
	HandleFunc(m, op, func(http.ResponseWriter, *http.Request) {})
	if m.built || m.doc != nil {
		t.Fatal("the document was built at registration")
	}
	if _, err := m.Document(); err != nil || !m.built {
		t.Fatalf("Document: %v (built %v)", err, m.built)
	}
	op.Path = "/b"
	HandleFunc(m, op, func(http.ResponseWriter, *http.Request) {})
	if m.built {
		t.Fatal("a route added after the document was built did not invalidate it")
	}
	b, _ := m.Document()
	if want := `"/b"`; !bytes.Contains(b, []byte(want)) {
		t.Errorf("document lacks %s", want)
	}
}
