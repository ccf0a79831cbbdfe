package jobs_test

import (
	"context"
	"fmt"
	"testing"

	"emgd/internal/jobs"
	"emgd/internal/store"
	"emgd/internal/store/storetest"
)

// otherArgs has the same args field under another kind.
type otherArgs struct {
	SessionID string `json:"session_id"`
}

func (otherArgs) Kind() string { return "emgd_test_other" }

// SimulateRescue makes a job look as River's rescuer leaves a job whose
// process died during its last attempt: discarded, with the rescuer's error.
func simulateRescue(t *testing.T, st store.Store, id int64) {
	t.Helper()
	errJSON := fmt.Sprintf(`{"at":"2026-01-01T00:00:00Z","attempt":1,"error":%q,"trace":""}`, jobs.RescuedError)
	q := `UPDATE river_job SET state = 'discarded', attempt = 1, attempted_at = now(), finalized_at = now(),
		errors = array_append(errors, $1::jsonb) WHERE id = $2`
	if st.Dialect() == store.SQLite {
		q = `UPDATE river_job SET state = 'discarded', attempt = 1,
			attempted_at = strftime('%Y-%m-%d %H:%M:%f', 'now'), finalized_at = strftime('%Y-%m-%d %H:%M:%f', 'now'),
			errors = jsonb(json_array(json($1))) WHERE id = $2`
	}
	if _, err := storetest.DB(st).ExecContext(context.Background(), q, errJSON, id); err != nil {
		t.Fatal(err)
	}
}

// JobsByArg finds the jobs of one kind by a string field of their args, over
// more values than one query takes, filtered by state, and tells a job the
// rescuer discarded.
func TestJobsByArg(t *testing.T) {
	eachBackend(t, func(t *testing.T, api, _ store.Store) {
		ctx := context.Background()
		q, err := jobs.New(ctx, api, jobs.Config{}) // insert only: nothing runs
		if err != nil {
			t.Fatal(err)
		}
		const n = 230
		values := make([]string, n)
		ids := map[string]int64{}
		var params []jobs.Insert
		for i := range values {
			values[i] = fmt.Sprintf("00000000-0000-4000-8000-%012d", i)
			params = append(params, jobs.Insert{Args: markArgs{SessionID: values[i]}})
		}
		// Another kind with a looked-up value, and a value never asked for.
		params = append(params, jobs.Insert{Args: otherArgs{SessionID: values[0]}},
			jobs.Insert{Args: markArgs{SessionID: "not-asked"}})
		if err := api.InTx(ctx, func(tx store.Tx) error {
			res, err := q.EnqueueManyTx(ctx, tx, params)
			for i, id := range res[:n] {
				ids[values[i]] = id
			}
			return err
		}); err != nil {
			t.Fatal(err)
		}
		simulateRescue(t, api, ids[values[7]])

		got, err := jobs.JobsByArg(ctx, q, markArgs{}.Kind(), "session_id", values)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != n {
			t.Fatalf("%d jobs, want %d", len(got), n)
		}
		seen := map[string]bool{}
		for _, j := range got {
			if j.ID != ids[j.Arg] || seen[j.Arg] {
				t.Errorf("job %d for %q (want id %d, seen %v)", j.ID, j.Arg, ids[j.Arg], seen[j.Arg])
			}
			seen[j.Arg] = true
			switch {
			case j.Arg == values[7]:
				if j.State != jobs.StateDiscarded || !j.Rescued || j.Live() || j.Attempt != 1 || j.FinalizedAt == nil {
					t.Errorf("rescued job: %+v", j)
				}
			case j.State != jobs.StateAvailable || j.Rescued || !j.Live():
				t.Errorf("waiting job: %+v", j)
			}
		}

		live, err := jobs.JobsByArg(ctx, q, markArgs{}.Kind(), "session_id", values[:10], jobs.LiveStates...)
		if err != nil || len(live) != 9 {
			t.Fatalf("live jobs of 10 values: %d %v", len(live), err)
		}
		final, err := jobs.JobsByArg(ctx, q, markArgs{}.Kind(), "session_id", values[:10], jobs.FinalStates...)
		if err != nil || len(final) != 1 || final[0].Arg != values[7] {
			t.Fatalf("final jobs of 10 values: %+v %v", final, err)
		}
		if none, err := jobs.JobsByArg(ctx, q, markArgs{}.Kind(), "session_id", nil); err != nil || len(none) != 0 {
			t.Fatalf("no values: %v %v", none, err)
		}
		if _, err := jobs.JobsByArg(ctx, q, markArgs{}.Kind(), "session_id') OR ('1", values); err == nil {
			t.Fatal("a field that is not a name was accepted")
		}
	})
}
