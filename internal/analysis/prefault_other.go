//go:build !linux

package analysis

// prefault does nothing where the system offers no such advice.
func prefault(p, n uintptr) {}
