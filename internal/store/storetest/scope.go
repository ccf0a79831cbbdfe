package storetest

import (
	"slices"
	"testing"

	"emgd/internal/store"
)

// testScope: a restricted scope lists only its patients' sessions and
// patients (none when it names none), with every other filter and across
// pages; an unrestricted scope lists everyone whatever it names.
func testScope(t *testing.T, s store.Store) {
	c := ctx(t)
	count := map[string]int{}
	for i := range 9 {
		p := []string{"P001", "P002", "P003"}[i%3]
		create(t, s, store.NewSession{ObjectKey: key(p, i)})
		count[p]++
	}
	restricted := func(ps ...string) store.Scope { return store.Scope{Patients: ps, Restricted: true} }
	for _, tc := range []struct {
		name string
		o    store.ListOptions
		want []string // patients whose sessions are all listed
	}{
		{"unrestricted", store.ListOptions{}, []string{"P001", "P002", "P003"}},
		{"unrestricted naming one", store.ListOptions{Scope: store.Scope{Patients: []string{"P001"}}}, []string{"P001", "P002", "P003"}},
		{"two patients", store.ListOptions{Scope: restricted("P001", "P003")}, []string{"P001", "P003"}},
		{"two patients, pages of 2", store.ListOptions{Scope: restricted("P003", "P001"), Limit: 2}, []string{"P001", "P003"}},
		{"one patient", store.ListOptions{Scope: restricted("P002")}, []string{"P002"}},
		{"none", store.ListOptions{Scope: restricted()}, nil},
		{"a patient never seen", store.ListOptions{Scope: restricted("P404")}, nil},
		{"filter inside", store.ListOptions{Scope: restricted("P001", "P002"), PatientCode: "P002"}, []string{"P002"}},
		{"filter outside", store.ListOptions{Scope: restricted("P001"), PatientCode: "P002"}, nil},
		{"with status", store.ListOptions{Scope: restricted("P001"), Status: store.StatusPending}, []string{"P001"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := map[string]int{}
			o := tc.o
			for pages := 0; ; pages++ {
				page, err := s.ListSessions(c, o)
				if err != nil {
					t.Fatal(err)
				}
				for _, x := range page.Sessions {
					got[x.PatientCode]++
				}
				if page.NextCursor == "" || pages > 20 {
					break
				}
				o.Cursor = page.NextCursor
			}
			want := map[string]int{}
			for _, p := range tc.want {
				want[p] = count[p]
			}
			if len(got) != len(want) || !func() bool {
				for p, n := range want {
					if got[p] != n {
						return false
					}
				}
				return true
			}() {
				t.Errorf("ListSessions(%+v) lists %v, want %v", tc.o, got, want)
			}

			ps, err := s.Patients(c, store.PatientOptions{Scope: tc.o.Scope, PatientCode: tc.o.PatientCode})
			if err != nil {
				t.Fatal(err)
			}
			var codes []string
			for _, p := range ps {
				codes = append(codes, p.PatientCode)
			}
			if !slices.Equal(codes, tc.want) {
				t.Errorf("Patients(%+v) = %v, want %v", tc.o.Scope, codes, tc.want)
			}
		})
	}
}
