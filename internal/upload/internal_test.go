package upload

import (
	"bytes"
	"context"
	"errors"
	"math"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"emgd/internal/testrec"
)

func request(t *testing.T, ctx context.Context) *http.Request {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	w, _ := mw.CreateFormFile("file", "a.c3d")
	w.Write(testrec.Ghostly(testrec.Options{Seed: 1}))
	mw.Close()
	r := httptest.NewRequestWithContext(ctx, "POST", "/upload", &b)
	r.Header.Set("Content-Type", mw.FormDataContentType())
	return r
}

// Analyses beyond Concurrent wait for a turn; one whose client leaves
// while waiting ends without analysing.
func TestConcurrencyBound(t *testing.T) {
	h := &Handler{Concurrent: 1}
	mux := http.NewServeMux()
	h.Register(mux, nil)
	h.sem <- struct{}{} // an analysis is running

	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	rec := httptest.NewRecorder()
	start := time.Now()
	mux.ServeHTTP(rec, request(t, ctx))
	if rec.Code != 499 || time.Since(start) < 150*time.Millisecond {
		t.Errorf("waiting upload whose client left: %d after %v", rec.Code, time.Since(start))
	}

	done := make(chan int, 1)
	go func() {
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, request(t, context.Background()))
		done <- rec.Code
	}()
	select {
	case code := <-done:
		t.Fatalf("answered %d while the only turn was taken", code)
	case <-time.After(300 * time.Millisecond):
	}
	<-h.sem // the running analysis ends
	select {
	case code := <-done:
		if code != 200 {
			t.Errorf("after its turn: %d", code)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the waiting upload never ran")
	}
	if len(h.sem) != 0 {
		t.Errorf("%d turns left taken", len(h.sem))
	}
}

func TestFloatsJSON(t *testing.T) {
	b, err := floats{0, -1.5, 1e-7, math.NaN(), math.Inf(1), math.Inf(-1), 2}.MarshalJSON()
	if err != nil || string(b) != "[0,-1.5,1e-07,null,null,null,2]" {
		t.Errorf("%s %v", b, err)
	}
	if b, _ := (floats{}).MarshalJSON(); string(b) != "[]" {
		t.Errorf("empty: %s", b)
	}
}

func TestObjectKey(t *testing.T) {
	for name, want := range map[string]string{
		"rec.c3d":           "P001/rec.c3d",
		"a b (2).C3D":       "P001/a_b_2_.C3D",
		`C:\x\y\z.c3d`:      "P001/z.c3d",
		"../../etc/p.c3d":   "P001/p.c3d",
		"...hidden.c3d":     "P001/hidden.c3d",
		"ümlaut-ß.c3d":      "P001/mlaut-_.c3d",
		"x.c3d\x00.txt.c3d": "P001/x.c3d_.txt.c3d",
		".c3d":              "",
		"__.c3d":            "",
		"file.txt":          "",
		"c3d":               "",
	} {
		got, err := objectKey("P001", name)
		if want == "" {
			if err == nil {
				t.Errorf("%q: %q, want an error", name, got)
			}
			continue
		}
		if err != nil || got != want {
			t.Errorf("%q: %q %v, want %q", name, got, err, want)
		}
	}
	long := string(bytes.Repeat([]byte("a"), 300)) + ".c3d"
	if got, err := objectKey("P001", long); err != nil || len(got) != len("P001/")+200 {
		t.Errorf("long name: %d bytes %v", len(got), err)
	}
}

// TestPatientCodeBound: a patient code is store.IsPatientCode's (P and 1
// to 12 digits) in the form's patient and patient_id and in the words of a
// file name; 13 digits name no patient, as everywhere else.
func TestPatientCodeBound(t *testing.T) {
	const p12, p13 = "P123456789012", "P1234567890123"
	if got := namedPatients(p12+"S001.c3d", p12, "P001"); len(got) != 2 || got[0] != p12 || got[1] != "P001" {
		t.Errorf("12 digits: %v", got)
	}
	if got := namedPatients(p13+"S001_"+p13+".c3d", p13); len(got) != 0 {
		t.Errorf("13 digits named %v", got)
	}
	// An existing analysis sent back names its patient_id's and file's.
	pid := p12
	if got := (&existingResult{SourceFilename: "P002S001.c3d", PatientID: &pid}).patients(); len(got) != 2 || got[0] != p12 || got[1] != "P002" {
		t.Errorf("existing analysis of %s: %v", p12, got)
	}
	if got := (&existingResult{SourceFilename: p13 + ".c3d"}).patients(); len(got) != 0 {
		t.Errorf("existing analysis without patient_id: %v", got)
	}
	opts := func(fields map[string]string) (*options, error) {
		o := &options{store: fields["store"] == "true"}
		return o, o.identifiers(&form{values: fields})
	}
	if o, err := opts(map[string]string{"patient": p12}); err != nil || o.patient != p12 {
		t.Errorf("patient %s: %+v, %v", p12, o, err)
	}
	unprocessable := func(err error) bool {
		var he *httpError
		return errors.As(err, &he) && he.code == http.StatusUnprocessableEntity && strings.Contains(he.msg, "1 to 12 digits")
	}
	if _, err := opts(map[string]string{"patient": p13}); !unprocessable(err) {
		t.Errorf("patient %s: %v, want a 422", p13, err)
	}
	if _, err := opts(map[string]string{"patient_id": p13, "store": "true"}); !unprocessable(err) {
		t.Errorf("patient_id %s to store: %v, want a 422", p13, err)
	}
	// Not stored, patient_id is only echoed: the file goes under no patient.
	if o, err := opts(map[string]string{"patient_id": p13}); err != nil || o.patient != "P000" || *o.patientID != p13 {
		t.Errorf("patient_id %s echoed: %+v, %v", p13, o, err)
	}
}
