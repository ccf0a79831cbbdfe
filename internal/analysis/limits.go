package analysis

import (
	"errors"
	"fmt"
	"sync/atomic"

	"emgd/c3d"
)

// Memory is bounded by configuration, not by the file: before any sample
// is read, the samples a file declares are checked against the limits (and,
// by package c3d, against the bytes the file really holds), so a small or
// sparse file that declares hundreds of millions of samples fails with a
// message instead of allocating for them.

// DefaultMaxSamplesPerChannel is the default limit on the samples of one
// analog channel: 6 M samples, the GHOSTLY maximum of 600 s at 10 kHz (50
// min at 2 kHz).
const DefaultMaxSamplesPerChannel = 6_000_000

// Limits bound what one analysis (or one decode of a channel) may hold.
type Limits struct {
	// MaxSamplesPerChannel is the most samples per analog channel a file
	// may have to be analysed or decoded; 0 means the default. An analysis
	// holds a few channels at a time (see the README's memory bound), so its
	// memory is proportional to this, never to the file's declarations.
	MaxSamplesPerChannel int
}

// ErrOverLimit is matched (errors.Is) by the error for a file larger than
// the configured limits.
var ErrOverLimit = errors.New("over the configured limits")

// LimitError says which limit a file exceeds.
type LimitError struct {
	Samples int     // samples per channel the file declares
	Rate    float64 // analog rate in Hz
	Limit   int     // the limit on samples per channel
}

func (e *LimitError) Error() string {
	dur := ""
	if e.Rate > 0 {
		dur = fmt.Sprintf(" (%.0f s at %g Hz)", float64(e.Samples)/e.Rate, e.Rate)
	}
	return fmt.Sprintf("the recording has %d samples per channel%s, over the limit of %d samples per channel (--max-samples-per-channel); it is not analysed",
		e.Samples, dur, e.Limit)
}

func (e *LimitError) Is(target error) bool { return target == ErrOverLimit }

var limits atomic.Pointer[Limits]

// SetLimits sets the limits every analysis and decode of this process
// checks (serve, worker and analyze set them from their flags at start).
func SetLimits(l Limits) {
	limits.Store(&l)
}

// CurrentLimits returns the limits in force, defaults filled in.
func CurrentLimits() Limits {
	var l Limits
	if p := limits.Load(); p != nil {
		l = *p
	}
	if l.MaxSamplesPerChannel <= 0 {
		l.MaxSamplesPerChannel = DefaultMaxSamplesPerChannel
	}
	return l
}

// CheckLimits returns a *LimitError when the open file declares more
// samples per channel than the limits allow. Call it after c3d.Open and
// before reading any channel (c3d.Open has already checked that the
// declared frames fit in the bytes the file holds).
func CheckLimits(f *c3d.File) error {
	lim := CurrentLimits()
	if n := f.SamplesPerChannel(); n > lim.MaxSamplesPerChannel {
		return &LimitError{Samples: n, Rate: f.Analog.Rate, Limit: lim.MaxSamplesPerChannel}
	}
	return nil
}
