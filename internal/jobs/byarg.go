package jobs

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"regexp"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
)

// RescuedError is the error River's rescuer records on a job whose attempt
// was still running after RescueStuckJobsAfter: the process running it
// stopped (killed, out of memory, node lost) or hung.
const RescuedError = "Stuck job rescued by JobRescuer"

// LiveStates are the states of a job that may still run.
var LiveStates = []rivertype.JobState{
	rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRetryable,
	rivertype.JobStateRunning, rivertype.JobStateScheduled,
}

// FinalStates are the states of a job that will not run again.
var FinalStates = []rivertype.JobState{
	rivertype.JobStateCancelled, rivertype.JobStateCompleted, rivertype.JobStateDiscarded,
}

// JobInfo is what the queue records about one job.
type JobInfo struct {
	ID int64
	// Arg is the value of the args field the job was looked up by.
	Arg         string
	State       rivertype.JobState
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

var argFieldRe = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)

// JobsByArg returns the jobs of kind whose JSON args field (a string, such
// as "session_id") is one of values, in the given states (every state when
// none), ordered by id. It reads River's table through River's own list
// query, a batch of values at a time.
func JobsByArg(ctx context.Context, q Queue, kind, field string, values []string, states ...rivertype.JobState) ([]JobInfo, error) {
	if !argFieldRe.MatchString(field) {
		return nil, fmt.Errorf("jobs: invalid args field %q", field)
	}
	switch x := q.(type) {
	case *queue[pgx.Tx]:
		return jobsByArg(ctx, x.client, kind, field, values, states)
	case *queue[*sql.Tx]:
		return jobsByArg(ctx, x.client, kind, field, values, states)
	}
	return nil, fmt.Errorf("jobs: cannot list the jobs of a %T", q)
}

func jobsByArg[TTx any](ctx context.Context, c *river.Client[TTx], kind, field string, values []string, states []rivertype.JobState) ([]JobInfo, error) {
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
			params = params.States(states...)
		}
		for {
			res, err := c.JobList(ctx, params)
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
	info := JobInfo{ID: j.ID, State: j.State, Attempt: j.Attempt, MaxAttempts: j.MaxAttempts,
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
