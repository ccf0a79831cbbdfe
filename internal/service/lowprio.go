package service

import (
	"fmt"
	"runtime"
)

// Phase 2 runs at a lower CPU priority than phase 1 (Config.AnalysisNice):
// Go has no goroutine priorities, so each analysis runs on an OS thread of
// its own whose nice value is raised, and the kernel then prefers the
// threads answering webhooks (and, on the same machine, the database's
// processes) whenever the cores are short. The Go processors the analyses
// hold are not shared with phase 1 only if the process has more of them than
// analyses run at once (app.Run raises GOMAXPROCS by the workers).

// lowPriority runs f on a new OS thread whose nice value is raised by nice
// and returns its error. The thread is never handed back to Go: it ends
// with f, and its nice value with it (an unprivileged process may raise a
// nice value, not lower it). A panic in f is raised again in the caller. f
// runs on the caller's goroutine when nice is 0 or the system has no
// per-thread nice values; when the system refuses, f runs at the thread's
// usual priority.
func lowPriority(nice int, f func() error) error {
	if nice <= 0 || !perThreadNice {
		return f()
	}
	type result struct {
		err      error
		panicked bool
		v        any
	}
	done := make(chan result, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread exits with this goroutine
		setThreadNice(nice)
		r := result{panicked: true}
		defer func() {
			if r.panicked {
				r.v = recover()
				if r.v == nil {
					r.v = fmt.Errorf("analysis ended without returning (runtime.Goexit)")
				}
			}
			done <- r
		}()
		r.err = f()
		r.panicked = false
	}()
	r := <-done
	if r.panicked {
		panic(r.v)
	}
	return r.err
}
