package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"emgd/internal/store"
)

func strp(s string) *string { return &s }

func configNames(l []store.ScoringConfig) []string {
	var out []string
	for _, c := range l {
		out = append(out, fmt.Sprintf("%s(active=%v)", c.Name, c.Active))
	}
	return out
}

// testScoringDefault: a fresh database holds the old default configuration,
// GHOSTLY-TRIAL-DEFAULT with its fixed id and weights, active and global.
func testScoringDefault(t *testing.T, s store.Store) {
	l, err := s.ListScoringConfigs(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(l) != 1 {
		t.Fatalf("fresh database: %d scoring configurations %v, want the default alone", len(l), configNames(l))
	}
	d := l[0]
	if d.ID != store.DefaultScoringConfigID || d.Name != store.DefaultScoringConfigName || !d.Active || !d.Global ||
		d.Weights != store.DefaultScoringWeights() || d.TherapistID != nil || d.PatientID != nil ||
		d.Description == nil || *d.Description != store.DefaultScoringConfigDescription || d.CreatedAt.IsZero() {
		t.Errorf("default configuration = %+v", d)
	}
	a, err := s.ActiveScoringConfig(ctx(t))
	if err != nil || a.ID != store.DefaultScoringConfigID {
		t.Errorf("ActiveScoringConfig = %+v, %v; want the default", a, err)
	}
	if _, err := s.GetScoringConfig(ctx(t), "A0000000-0000-0000-0000-000000000001"); err != nil {
		t.Errorf("GetScoringConfig upper-case id: %v", err)
	}
}

// testScoringLifecycle: created configurations are inactive and listed newest
// first; activating one deactivates the others but the default; the newest
// active one is the active configuration; an active configuration cannot be
// deleted; unknown and malformed ids are ErrNotFound and change nothing.
func testScoringLifecycle(t *testing.T, s store.Store) {
	w := store.ScoringWeights{Compliance: 0.4, Symmetry: 0.3, Effort: 0.2, Game: 0.1, Completion: 0.5, Intensity: 0.25, Duration: 0.25}
	a, err := s.CreateScoringConfig(ctx(t), store.ScoringConfig{Name: "A", Description: strp("first"), Weights: w,
		Active: true, Global: true})
	if err != nil {
		t.Fatal(err)
	}
	if a.Active || a.Global || a.Name != "A" || *a.Description != "first" || a.Weights != w || a.TherapistID != nil {
		t.Errorf("created = %+v; want inactive, not global, as given", a)
	}
	b, err := s.CreateScoringConfig(ctx(t), store.ScoringConfig{Name: "B", Weights: w})
	if err != nil {
		t.Fatal(err)
	}
	if b.Description != nil {
		t.Errorf("description = %q, want nil", *b.Description)
	}
	l, _ := s.ListScoringConfigs(ctx(t))
	if got := configNames(l); fmt.Sprint(got) != "[B(active=false) A(active=false) GHOSTLY-TRIAL-DEFAULT(active=true)]" {
		t.Errorf("list = %v", got)
	}
	if _, err := s.ActivateScoringConfig(ctx(t), a.ID); err != nil {
		t.Fatal(err)
	}
	if c, err := s.ActiveScoringConfig(ctx(t)); err != nil || c.ID != a.ID {
		t.Errorf("active after activating A = %+v, %v", c, err)
	}
	if _, err := s.ActivateScoringConfig(ctx(t), b.ID); err != nil {
		t.Fatal(err)
	}
	l, _ = s.ListScoringConfigs(ctx(t))
	if got := configNames(l); fmt.Sprint(got) != "[B(active=true) A(active=false) GHOSTLY-TRIAL-DEFAULT(active=true)]" {
		t.Errorf("after activating B: %v", got)
	}
	for _, id := range []string{"a0000000-0000-0000-0000-0000000000ff", "not-a-uuid", ""} {
		if _, err := s.ActivateScoringConfig(ctx(t), id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("activate %q = %v, want ErrNotFound", id, err)
		}
		if err := s.DeleteScoringConfig(ctx(t), id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("delete %q = %v, want ErrNotFound", id, err)
		}
		if _, err := s.GetScoringConfig(ctx(t), id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("get %q = %v, want ErrNotFound", id, err)
		}
	}
	l2, _ := s.ListScoringConfigs(ctx(t))
	if fmt.Sprint(configNames(l2)) != fmt.Sprint(configNames(l)) {
		t.Errorf("activating an unknown id changed %v into %v", configNames(l), configNames(l2))
	}
	for _, id := range []string{b.ID, store.DefaultScoringConfigID} {
		if err := s.DeleteScoringConfig(ctx(t), id); !errors.Is(err, store.ErrScoringConfigActive) {
			t.Errorf("delete active %s = %v, want ErrScoringConfigActive", id, err)
		}
	}
	if err := s.DeleteScoringConfig(ctx(t), a.ID); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteScoringConfig(ctx(t), a.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("second delete = %v, want ErrNotFound", err)
	}
	bad := w
	bad.Game = 1.5
	if _, err := s.CreateScoringConfig(ctx(t), store.ScoringConfig{Name: "bad", Weights: bad}); !errors.Is(err, store.ErrInvalidInput) {
		t.Errorf("weight 1.5 = %v, want ErrInvalidInput", err)
	}
}

// testScoringCustom: one custom configuration per therapist and per
// therapist and patient, replaced in place when saved again (also by
// concurrent writers), found by exactly that pair.
func testScoringCustom(t *testing.T, s store.Store) {
	w := store.DefaultScoringWeights()
	if _, err := s.CustomScoringConfig(ctx(t), "T1", nil); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("no custom configuration yet: %v", err)
	}
	th, err := s.SaveCustomScoringConfig(ctx(t), store.ScoringConfig{Name: "Custom - T1", Weights: w, TherapistID: strp("T1")})
	if err != nil {
		t.Fatal(err)
	}
	tp, err := s.SaveCustomScoringConfig(ctx(t), store.ScoringConfig{Name: "Custom - T1 - P001", Weights: w,
		TherapistID: strp("T1"), PatientID: strp("P001")})
	if err != nil {
		t.Fatal(err)
	}
	if th.ID == tp.ID || *tp.PatientID != "P001" || th.PatientID != nil || th.Active {
		t.Errorf("therapist %+v, therapist and patient %+v", th, tp)
	}
	w2 := store.ScoringWeights{Compliance: 0.7, Symmetry: 0.1, Effort: 0.1, Game: 0.1, Completion: 0.2, Intensity: 0.3, Duration: 0.5}
	again, err := s.SaveCustomScoringConfig(ctx(t), store.ScoringConfig{Name: "renamed", Description: strp("d"), Weights: w2,
		TherapistID: strp("T1"), PatientID: strp("P001")})
	if err != nil {
		t.Fatal(err)
	}
	if again.ID != tp.ID || again.Name != "renamed" || again.Weights != w2 || !again.CreatedAt.Equal(tp.CreatedAt) {
		t.Errorf("saved again = %+v, want %s updated in place", again, tp.ID)
	}
	if c, err := s.CustomScoringConfig(ctx(t), "T1", strp("P001")); err != nil || c.ID != tp.ID || c.Weights != w2 {
		t.Errorf("custom T1/P001 = %+v, %v", c, err)
	}
	if c, err := s.CustomScoringConfig(ctx(t), "T1", nil); err != nil || c.ID != th.ID {
		t.Errorf("custom T1 = %+v, %v", c, err)
	}
	for _, p := range []*string{strp("P002"), strp("")} {
		if _, err := s.CustomScoringConfig(ctx(t), "T2", p); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("custom T2 = %v, want ErrNotFound", err)
		}
	}
	if _, err := s.SaveCustomScoringConfig(ctx(t), store.ScoringConfig{Name: "x", Weights: w}); !errors.Is(err, store.ErrInvalidInput) {
		t.Errorf("custom without therapist = %v, want ErrInvalidInput", err)
	}
	if _, err := s.CustomScoringConfig(ctx(t), "", nil); !errors.Is(err, store.ErrInvalidInput) {
		t.Errorf("custom lookup without therapist = %v, want ErrInvalidInput", err)
	}

	// Concurrent first saves of one pair make one configuration.
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 8 {
		wg.Go(func() {
			_, err := s.SaveCustomScoringConfig(ctx(t), store.ScoringConfig{Name: fmt.Sprint("c", i), Weights: w,
				TherapistID: strp("T9"), PatientID: strp("P009")})
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("concurrent save: %v", err)
		}
	}
	l, _ := s.ListScoringConfigs(ctx(t))
	n := 0
	for _, c := range l {
		if c.TherapistID != nil && *c.TherapistID == "T9" {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d configurations for T9/P009 after concurrent saves, want 1", n)
	}
}

// testScoringDefaultSaved: SaveDefaultScoringConfig updates the default in
// place (active, global, renamed back, default description when none), and
// recreates it with its fixed id when it was removed.
func testScoringDefaultSaved(t *testing.T, s store.Store) {
	w := store.ScoringWeights{Compliance: 0.45, Symmetry: 0.25, Effort: 0.25, Game: 0.05, Completion: 0.333, Intensity: 0.333, Duration: 0.334}
	before, _ := s.GetScoringConfig(ctx(t), store.DefaultScoringConfigID)
	d, err := s.SaveDefaultScoringConfig(ctx(t), strp("new text"), w)
	if err != nil {
		t.Fatal(err)
	}
	if d.ID != store.DefaultScoringConfigID || d.Weights != w || *d.Description != "new text" || !d.Active || !d.Global ||
		!d.CreatedAt.Equal(before.CreatedAt) || d.UpdatedAt.Before(before.UpdatedAt) {
		t.Errorf("saved default = %+v (before %+v)", d, before)
	}
	if d, err = s.SaveDefaultScoringConfig(ctx(t), nil, store.DefaultScoringWeights()); err != nil ||
		*d.Description != store.DefaultScoringConfigDescription {
		t.Errorf("saved default without description = %+v, %v", d, err)
	}
	if _, err := DB(s).ExecContext(ctx(t), `DELETE FROM scoring_configurations`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ActiveScoringConfig(ctx(t)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("no configuration: active = %v, want ErrNotFound", err)
	}
	if d, err = s.SaveDefaultScoringConfig(ctx(t), nil, w); err != nil || d.ID != store.DefaultScoringConfigID ||
		d.Name != store.DefaultScoringConfigName || !d.Active || d.Weights != w {
		t.Errorf("recreated default = %+v, %v", d, err)
	}
	bad := w
	bad.Effort = -0.1
	if _, err := s.SaveDefaultScoringConfig(ctx(t), nil, bad); !errors.Is(err, store.ErrInvalidInput) {
		t.Errorf("negative weight = %v, want ErrInvalidInput", err)
	}
}
