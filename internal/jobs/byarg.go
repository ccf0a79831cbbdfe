package jobs

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"sync"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
)

// RescuedError is the error River's rescuer records on a job whose attempt
// was still running after RescueStuckJobsAfter: the process running it
// stopped (killed, out of memory, node lost) or hung.
const RescuedError = "Stuck job rescued by JobRescuer"

// State is a job's state, as River names it.
type State string

// The states of a job.
const (
	StateAvailable = State(rivertype.JobStateAvailable)
	StatePending   = State(rivertype.JobStatePending)
	StateRetryable = State(rivertype.JobStateRetryable)
	StateRunning   = State(rivertype.JobStateRunning)
	StateScheduled = State(rivertype.JobStateScheduled)
	StateCancelled = State(rivertype.JobStateCancelled)
	StateCompleted = State(rivertype.JobStateCompleted)
	StateDiscarded = State(rivertype.JobStateDiscarded)
)

// LiveStates are the states of a job that may still run.
var LiveStates = []State{StateAvailable, StatePending, StateRetryable, StateRunning, StateScheduled}

// FinalStates are the states of a job that will not run again.
var FinalStates = []State{StateCancelled, StateCompleted, StateDiscarded}

// JobInfo is what the queue records about one job.
type JobInfo struct {
	ID int64
	// Arg is the value of the args field the job was looked up by.
	Arg         string
	State       State
	Attempt     int
	MaxAttempts int
	// LastError is the newest attempt's error, "" when none.
	LastError string
	// Rescued: the newest attempt was ended by River's rescuer, not by the
	// worker (its process stopped while the job ran).
	Rescued     bool
	CreatedAt   time.Time
	FinalizedAt *time.Time
}

// Live reports whether the job may still run.
func (j JobInfo) Live() bool {
	for _, s := range LiveStates {
		if j.State == s {
			return true
		}
	}
	return false
}

// byArgBatch is how many values go into one query.
const byArgBatch = 100

var argFieldRe = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z_][a-z0-9_]*$`) })

// JobsByArg returns the jobs of kind whose JSON args field (a string, such
// as "session_id") is one of values, in the given states (every state when
// none), ordered by id. It reads River's table through River's own list
// query, a batch of values at a time.
func JobsByArg(ctx context.Context, q Queue, kind, field string, values []string, states ...State) ([]JobInfo, error) {
	if !argFieldRe().MatchString(field) {
		return nil, fmt.Errorf("jobs: invalid args field %q", field)
	}
	riverStates := make([]rivertype.JobState, len(states))
	for i, s := range states {
		riverStates[i] = rivertype.JobState(s)
	}
	var out []JobInfo
	for start := 0; start < len(values); start += byArgBatch {
		batch := values[start:min(start+byArgBatch, len(values))]
		// Named arguments of one width, so that none is a prefix of another
		// (River substitutes them by text).
		named := river.NamedArgs{}
		in := make([]byte, 0, len(batch)*8)
		for i, v := range batch {
			name := fmt.Sprintf("emgd_arg_%04d", i)
			if i > 0 {
				in = append(in, ", "...)
			}
			in = append(in, '@')
			in = append(in, name...)
			named[name] = v
		}
		// args ->> 'field' reads a top-level string on PostgreSQL (jsonb)
		// and on SQLite (JSONB blob, label form of the path).
		params := river.NewJobListParams().Kinds(kind).
			Where(fmt.Sprintf("args ->> '%s' IN (%s)", field, in), named).
			OrderBy(river.JobListOrderByID, river.SortOrderAsc).First(10000)
		if len(states) > 0 {
			params = params.States(riverStates...)
		}
		for {
			res, err := q.jobList(ctx, params)
			if err != nil {
				return out, fmt.Errorf("jobs: list %s jobs by %s: %w", kind, field, err)
			}
			for _, j := range res.Jobs {
				out = append(out, jobInfo(j, field))
			}
			if len(res.Jobs) < 10000 || res.LastCursor == nil {
				break
			}
			params = params.After(res.LastCursor)
		}
	}
	return out, nil
}

func jobInfo(j *rivertype.JobRow, field string) JobInfo {
	info := JobInfo{ID: j.ID, State: State(j.State), Attempt: j.Attempt, MaxAttempts: j.MaxAttempts,
		CreatedAt: j.CreatedAt, FinalizedAt: j.FinalizedAt}
	if n := len(j.Errors); n > 0 {
		last := j.Errors[n-1]
		info.LastError = last.Error
		info.Rescued = last.Error == RescuedError && last.Attempt == j.Attempt
	}
	var args map[string]any
	if err := json.Unmarshal(j.EncodedArgs, &args); err == nil {
		if s, ok := args[field].(string); ok {
			info.Arg = s
		}
	}
	return info
}
