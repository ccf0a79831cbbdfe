package jobs

import "github.com/riverqueue/river"

// SubscribeCompleted delivers River's completion events of q's jobs.
func SubscribeCompleted(q Queue) (<-chan *river.Event, func()) {
	return q.subscribe(river.EventKindJobCompleted)
}
