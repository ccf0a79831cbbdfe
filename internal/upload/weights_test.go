package upload_test

import (
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"testing"

	"emgd/internal/api"
	"emgd/internal/store"
	"emgd/internal/testrec"
)

// POST /upload scores with the weights phase 2 would use, first found:
// the form's params, the patient's settings, the custom configuration of
// the recording's therapist and the patient, the active configuration.
func TestUploadWeightsChain(t *testing.T) {
	e := newEnv(t, api.Config{}, nil)
	ctx := context.Background()
	st := e.store
	active, err := st.CreateScoringConfig(ctx, store.ScoringConfig{Name: "clinic", Weights: store.ScoringWeights{Compliance: 0.1, Symmetry: 0.9, Completion: 1}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.ActivateScoringConfig(ctx, active.ID); err != nil {
		t.Fatal(err)
	}
	custom, err := st.SaveCustomScoringConfig(ctx, store.ScoringConfig{Name: "Custom - T5 - P061",
		Weights: store.ScoringWeights{Compliance: 0.6, Symmetry: 0.4, Completion: 0.5, Intensity: 0.5}, TherapistID: strp("T5"), PatientID: strp("P061")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.SaveCustomScoringConfig(ctx, store.ScoringConfig{Name: "Custom - T5 - P062",
		Weights: store.ScoringWeights{Compliance: 0.6, Symmetry: 0.4, Completion: 0.5, Intensity: 0.5}, TherapistID: strp("T5"), PatientID: strp("P062")}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.SaveSettings(ctx, "P062", json.RawMessage(`{"weights":{"w_compliance":0.2,"w_symmetry":0,"w_effort":0.8,"w_game":0,"w_completion":0,"w_intensity":0,"w_duration":1}}`), "api"); err != nil {
		t.Fatal(err)
	}
	rec := testrec.Ghostly(testrec.Options{Seed: 61, Seconds: 12, TherapistID: "T5"})
	w := func(c, s, e, g, co, in, du float64) map[string]any {
		return map[string]any{"w_compliance": c, "w_symmetry": s, "w_effort": e, "w_game": g, "w_completion": co, "w_intensity": in, "w_duration": du}
	}
	explicit := `{"weights":{"w_compliance":1,"w_symmetry":0,"w_effort":0,"w_game":0,"w_completion":0,"w_intensity":1,"w_duration":0}}`
	for _, tc := range []struct {
		name   string
		fields [][2]string
		config any
		want   map[string]any
	}{
		{"1 explicit", [][2]string{{"patient", "P062"}, {"params", explicit}}, nil, w(1, 0, 0, 0, 0, 1, 0)},
		{"2 settings", [][2]string{{"patient", "P062"}}, nil, w(0.2, 0, 0.8, 0, 0, 0, 1)},
		{"3 custom", [][2]string{{"patient", "P061"}}, custom.ID, w(0.6, 0.4, 0, 0, 0.5, 0.5, 0)},
		{"4 active", [][2]string{{"patient", "P063"}}, active.ID, w(0.1, 0.9, 0, 0, 1, 0, 0)},
		{"4 active, no patient", nil, active.ID, w(0.1, 0.9, 0, 0, 1, 0, 0)},
	} {
		code, out := e.post("/upload", append(tc.fields, [2]string{"include_signals", "false"}), name, rec)
		if code != http.StatusOK {
			t.Fatalf("%s: %d %v", tc.name, code, out)
		}
		pa, _ := out["performance_analysis"].(map[string]any)
		if pa["scoring_config_id"] != tc.config || !reflect.DeepEqual(pa["weights_used"], tc.want) {
			t.Errorf("%s: scoring_config_id %v weights_used %v, want %v %v", tc.name, pa["scoring_config_id"], pa["weights_used"], tc.config, tc.want)
		}
	}
}

func strp(s string) *string { return &s }
