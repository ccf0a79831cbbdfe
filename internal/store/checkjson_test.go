package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// randomJSON builds a random JSON value: objects, arrays of numbers (some
// long), mixed arrays, strings with quotes, escapes and brackets.
func randomJSON(r *rand.Rand, depth int) string {
	k := r.IntN(7)
	if depth > 4 {
		k = 5 + r.IntN(2)
	}
	switch k {
	case 0, 1: // object
		var b strings.Builder
		b.WriteString("{")
		for i := range r.IntN(4) {
			if i > 0 {
				b.WriteString(",")
			}
			fmt.Fprintf(&b, "%q : %s", fmt.Sprintf("k%d\"]{,", i), randomJSON(r, depth+1))
		}
		b.WriteString(" }")
		return b.String()
	case 2: // array of numbers
		n := r.IntN(600)
		parts := make([]string, n)
		for i := range parts {
			parts[i] = fmt.Sprintf("%g", (r.Float64()-0.5)*1e6)
		}
		return "[ " + strings.Join(parts, " ,\n") + "]"
	case 3, 4: // mixed array
		n := r.IntN(5)
		parts := make([]string, n)
		for i := range parts {
			parts[i] = randomJSON(r, depth+1)
		}
		return "[" + strings.Join(parts, ",") + "]"
	case 5:
		return []string{`"a\"b[1,2]\\"`, `true`, `null`, `false`, `"x"`}[r.IntN(5)]
	}
	return fmt.Sprintf("%d", r.IntN(1000)-500)
}

// longestNumberArray on the bytes agrees with LongestNumberArray on the
// decoded value.
func TestLongestNumberArrayOnBytes(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	cases := []string{`{}`, `[]`, `[1]`, `[[1,2,3],[4]]`, `[1,"2",3]`, `["[1,2,3]"]`, `{"a":[-1,2e3,0.5]}`,
		`[{"a":[1,2]},3,4,5]`, `[null,1,2]`, `[ ]`, `[[],[]]`, `{"s":"\\\"[1,2,3,4]"}`}
	for range 3000 {
		cases = append(cases, randomJSON(r, 0))
	}
	for _, c := range cases {
		var v any
		dec := json.NewDecoder(strings.NewReader(c))
		dec.UseNumber()
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("test case not JSON: %v\n%s", err, c)
		}
		_, want := LongestNumberArray(v, "$")
		if got := longestNumberArray([]byte(c)); got != want {
			t.Fatalf("longestNumberArray = %d, want %d\n%s", got, want, c)
		}
	}
}

// checkJSON refuses what is not one JSON object, trailing bytes included,
// and names a time series' path.
func TestCheckJSON(t *testing.T) {
	long := "[" + strings.Repeat("1,", MaxJSONArrayNumbers) + "1]"
	for _, c := range []struct {
		raw  string
		want error
		msg  string
	}{
		{`{"a":1}`, nil, ""},
		{` {"a":[1,2]} `, nil, ""},
		{`{}]`, ErrInvalidInput, "not valid JSON"},
		{`{} {}`, ErrInvalidInput, "not valid JSON"},
		{`{"a":`, ErrInvalidInput, "not valid JSON"},
		{`[1,2]`, ErrInvalidInput, "must be a JSON object"},
		{`"x"`, ErrInvalidInput, "must be a JSON object"},
		{`{"a":{"b":` + long + `}}`, ErrTimeSeries, "m.a.b has 257 numbers"},
		{`{"a":[{"b":1},` + long + `]}`, ErrTimeSeries, "m.a[1] has 257 numbers"},
	} {
		v, err := checkJSON("m", json.RawMessage(c.raw), false)
		if c.want == nil {
			if err != nil || v != c.raw {
				t.Errorf("%.40s: %v, %v; want it stored as is", c.raw, v, err)
			}
			continue
		}
		if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%.40s: error %v, want %v naming %q", c.raw, err, c.want, c.msg)
		}
	}
}

func BenchmarkCheckJSON(b *testing.B) {
	raw := json.RawMessage(`{"file":"P001/f1.c3d","bucket":"c3d-examples","frames":173370,"rate":990,"channels":["CH1","CH2","CH3","CH4"],` +
		`"labels":{"CH1":"BicepsL","CH2":"BicepsR"},"game":{"name":"GHOSTLY","level":3,"points":[1,2,3,4,5,6,7,8]},"warnings":[]}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := checkJSON("metadata", raw, true); err != nil {
			b.Fatal(err)
		}
	}
}
