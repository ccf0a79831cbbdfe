package jsonsafe_test

import (
	"bytes"
	"encoding/json"
	"math"
	"reflect"
	"testing"
	"time"

	"emgd/emg"
	"emgd/internal/analysis"
	. "emgd/internal/jsonsafe"
	"emgd/internal/service"
	"emgd/internal/testrec"
)

type inner struct {
	A float64 `json:"a"`
	B string  `json:"b,omitempty"`
	Z float64 `json:"z"`
}

type sample struct {
	inner
	*emg.Weights
	Z       int               `json:"z"` // hides inner.Z
	F32     float32           `json:"f32"`
	P       *float64          `json:"p"`
	PNil    *float64          `json:"p_nil"`
	Omit    []int             `json:"omit,omitempty"`
	OmitZ   time.Time         `json:"omit_z,omitzero"`
	T       time.Time         `json:"t"`
	Skip    float64           `json:"-"`
	NoTag   []float64         // named as the field
	IntKeys map[int]float64   `json:"int_keys"`
	Any     map[string]any    `json:"any"`
	Raw     json.RawMessage   `json:"raw"`
	Bytes   []byte            `json:"bytes"`
	Arr     [2]float64        `json:"arr"`
	Nested  map[string]*inner `json:"nested"`
	hidden  float64
}

func sampleValue() *sample {
	p := 2.5
	return &sample{inner: inner{A: 1.25, Z: 3}, Weights: &emg.DefaultWeights, Z: 7, F32: 0.1, P: &p,
		T: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), NoTag: []float64{1, 2}, IntKeys: map[int]float64{3: 1, 1: 2},
		Any: map[string]any{"x": []any{1.5, "s", nil, map[string]any{"y": true}}}, Raw: json.RawMessage(`{"k":1}`),
		Bytes: []byte("hi"), Arr: [2]float64{4, 5}, Nested: map[string]*inner{"n": {A: 9, B: "b"}, "nil": nil}, hidden: 1}
}

// Without non-finite numbers the tree encodes byte for byte as
// json.Marshal encodes the value: structs, tags, embedding, marshalers,
// and a real analysis result.
func TestTreeMatchesEncodingJSON(t *testing.T) {
	res, err := analysis.Analyze(bytes.NewReader(testrec.Ghostly(testrec.Options{Seed: 3})), int64(len(testrec.Ghostly(testrec.Options{Seed: 3}))), "a.c3d", emg.Params{}, emg.Analyzer{})
	if err != nil {
		t.Fatal(err)
	}
	for name, v := range map[string]any{"sample": sampleValue(), "result": res, "summary": service.Summary(res),
		"scores": res.PerformanceAnalysis, "nil": nil, "map": map[string]any{"a": 1, "b": []string{"x"}}} {
		want, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		got, paths, err := Tree(v)
		if err != nil || !bytes.Equal(got, want) || len(paths) != 0 {
			t.Errorf("%s:\n got %s %v %v\nwant %s", name, got, err, paths, want)
		}
	}
}

// NaN and ±Inf anywhere become null, each named; the rest is unchanged.
func TestNonFinite(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	s := sampleValue()
	s.A, s.P, s.F32 = nan, &inf, float32(math.Inf(-1))
	s.IntKeys[3] = nan
	s.Any["x"].([]any)[0] = nan
	s.Nested["n"].A = inf
	s.Arr[1] = nan
	b, replaced, err := Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"a", "any.x[0]", "arr[1]", "f32", "int_keys.3", "nested.n.a", "p"}
	if !reflect.DeepEqual(replaced, want) {
		t.Errorf("replaced %q, want %q", replaced, want)
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if out["a"] != nil || out["p"] != nil || out["f32"] != nil || out["arr"].([]any)[1] != nil || out["z"] != 7.0 ||
		out["int_keys"].(map[string]any)["1"] != 2.0 || out["w_compliance"] == nil {
		t.Errorf("%s", b)
	}
	// Metadata as phase 1 builds it, with a bad score.
	b, replaced, err = Marshal(map[string]any{"game": map[string]any{"score": nan, "level": "2"}, "duration_seconds": 12.5})
	if err != nil || string(b) != `{"duration_seconds":12.5,"game":{"level":"2","score":null}}` || !reflect.DeepEqual(replaced, []string{"game.score"}) {
		t.Errorf("%s %q %v", b, replaced, err)
	}
	if w := Warnings("metadata", replaced); len(w) != 1 || w[0] != "metadata: field game.score was not a finite number; null instead" {
		t.Errorf("%q", w)
	}
	// Finite values: json.Marshal's bytes, nothing replaced.
	b, replaced, err = Marshal(map[string]float64{"x": 1})
	if err != nil || string(b) != `{"x":1}` || replaced != nil {
		t.Errorf("%s %q %v", b, replaced, err)
	}
	// Other errors are json.Marshal's.
	if _, _, err := Marshal(map[string]any{"c": make(chan int)}); err == nil {
		t.Error("a channel encoded")
	}
}
