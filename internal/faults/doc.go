// Package faults holds emgd's fault and hostile-input tests. They build the
// emgd binary once and run it as separate processes, so that a process can
// be killed with SIGKILL, its database stopped under it or its object
// storage taken away, exactly as in production. The package has no code of
// its own; its tests are skipped under -short.
package faults
