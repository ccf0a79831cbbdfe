package service_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"emgd/emg"
	"emgd/internal/store"
)

// A patient's settings name channels once for all their recordings; a
// recording without one of them (real GHOSTLY files have CH1 and CH2, the
// settings name CH1..CH3) is analysed with the settings of the channels it
// has: the session completes, the parameters recorded leave CH3 out, and
// the analysis says so in its warnings. This holds for a session whose
// metadata lacks the channel names (read from the file then). Explicit
// parameters naming CH3 still fail the session with a message naming it.
func TestSettingsForAbsentChannelsIgnored(t *testing.T) {
	eachDatabase(t, func(t *testing.T, st store.Store) {
		ctx := context.Background()
		p := newPipeline(t, st, 3)
		doc := `{"mvc":{"CH1":0.002,"CH2":0.004,"CH3":0.003},"threshold_pct":50,
			"expected_contractions_per_channel":{"CH1":10,"CH2":10,"CH3":8},
			"duration_thresholds_s":{"CH3":1.5},"channels":["CH1","CH2","CH3"],
			"muscle_names":{"CH1":"Left quadriceps","CH2":"Right quadriceps","CH3":"Left hamstring"}}`
		if _, err := st.SaveSettings(ctx, "P031", json.RawMessage(doc), "api"); err != nil {
			t.Fatal(err)
		}
		const name = "Ghostly_Emg_20230321_17-23-09-0409.c3d"
		ev := p.upload(t, "P031/"+name, ghostly(t, name))
		out, err := p.svc.Ingest(ctx, ev)
		if err != nil {
			t.Fatal(err)
		}
		sess := waitFor(t, st, out.Session.ID, store.StatusCompleted, 60*time.Second)
		checkPruned := func(t *testing.T, id string) {
			t.Helper()
			got := currentAnalysis(t, st, id)
			if got.summary.SettingsVersion != 1 {
				t.Errorf("settings_version %d, want 1", got.summary.SettingsVersion)
			}
			if len(got.params.MVC) != 2 || got.params.MVC["CH1"] != 0.002 || got.params.MVC["CH2"] != 0.004 ||
				len(got.params.ExpectedContractionsPerChannel) != 2 || got.params.DurationThresholdsS != nil ||
				strings.Join(got.params.Channels, ",") != "CH1,CH2" || got.params.ThresholdPct == nil || *got.params.ThresholdPct != 50 {
				t.Errorf("parameters recorded: %s, want the settings without CH3", got.a.Params)
			}
			if len(got.summary.Analytics) != 2 || got.summary.Analytics["CH1"] == nil || got.summary.Analytics["CH2"] == nil {
				t.Errorf("analysed channels: %v", got.summary.Analytics)
			}
			if len(got.summary.Warnings) != 1 || !strings.Contains(got.summary.Warnings[0], `"CH3"`) ||
				!strings.Contains(got.summary.Warnings[0], "channels, duration_thresholds_s, expected_contractions_per_channel, mvc") ||
				!strings.Contains(got.summary.Warnings[0], "version 1") || !strings.Contains(got.summary.Warnings[0], "ignored") {
				t.Errorf("warnings %q, want one naming CH3, its fields and the settings version", got.summary.Warnings)
			}
			if ch := got.summary.Analytics["CH1"]; ch == nil || ch.MVCEstimationMethod != emg.MVCUserProvided {
				t.Errorf("CH1 not analysed with the settings' MVC: %+v", ch)
			}
		}
		checkPruned(t, sess.ID)

		// A session whose metadata does not hold the channel names (one
		// imported from the old backend): the names come from the file.
		ev2 := p.upload(t, "P031/Ghostly_Emg_20230321_17-28-14-0160.c3d", ghostly(t, "Ghostly_Emg_20230321_17-28-14-0160.c3d"))
		bare, _, err := st.CreateSession(ctx, store.NewSession{Bucket: ev2.Bucket, ObjectKey: ev2.Key, ETag: ev2.ETag})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := p.svc.Reanalyze(ctx, bare.ID, emg.Params{}); err != nil {
			t.Fatal(err)
		}
		waitFor(t, st, bare.ID, store.StatusCompleted, 60*time.Second)
		checkPruned(t, bare.ID)

		// Settings that select only channels the recording lacks: every
		// channel is analysed, with a warning saying so.
		if _, err := st.SaveSettings(ctx, "P032", json.RawMessage(`{"channels":["CH3"],"mvc":{"CH3":0.003}}`), "api"); err != nil {
			t.Fatal(err)
		}
		only3, err := p.svc.Ingest(ctx, p.upload(t, "P032/"+name, ghostly(t, name)))
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, st, only3.Session.ID, store.StatusCompleted, 60*time.Second)
		got := currentAnalysis(t, st, only3.Session.ID)
		if len(got.summary.Analytics) != 2 || got.params.Channels != nil || got.params.MVC != nil ||
			len(got.summary.Warnings) != 2 || !strings.Contains(got.summary.Warnings[1], "every channel analysed") {
			t.Errorf("settings selecting CH3 only: params %s, channels %d, warnings %q", got.a.Params, len(got.summary.Analytics), got.summary.Warnings)
		}

		// Explicit parameters are not pruned: naming CH3 fails the session
		// with a message naming it.
		if _, err := p.svc.Reanalyze(ctx, sess.ID, emg.Params{MVC: map[string]float64{"CH3": 0.1}}); err != nil {
			t.Fatal(err)
		}
		failed := waitFor(t, st, sess.ID, store.StatusFailed, 60*time.Second)
		if !strings.Contains(failed.Error, `no channel "CH3" in the recording`) {
			t.Errorf("explicit mvc for CH3: error %q, want it to name CH3", failed.Error)
		}
	})
}
