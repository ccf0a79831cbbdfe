// Package analysis connects C3D files to the emg analytics: it opens a file
// with package c3d, builds the recording metadata, hands the analog channels
// to emg.Analyze (loading them on demand, a base or two per pass over the data) and
// returns the result with its metadata filled.
package analysis

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"

	"emgd/c3d"
	"emgd/emg"
)

// Metadata is the recording context of a result. Game fields come from the
// INFO and SUBJECTS groups that GHOSTLY writes and are omitted when absent.
type Metadata struct {
	File              string   `json:"file,omitempty"`
	ChannelNames      []string `json:"channel_names"`
	ChannelCount      int      `json:"channel_count"`
	SamplingRate      float64  `json:"sampling_rate"`
	DurationSeconds   float64  `json:"duration_seconds"`
	FrameCount        int      `json:"frame_count"`
	SamplesPerChannel int      `json:"samples_per_channel"`
	PointRate         float64  `json:"point_rate,omitempty"`
	GenScale          float64  `json:"gen_scale,omitempty"`

	System       string   `json:"system,omitempty"`
	Event        string   `json:"event,omitempty"`
	GameName     string   `json:"game_name,omitempty"`
	Level        string   `json:"level,omitempty"`
	LevelName    string   `json:"level_name,omitempty"`
	Version      string   `json:"version,omitempty"`
	GameDuration *float64 `json:"duration,omitempty"` // INFO:DURATION, seconds as the game states it
	TherapistID  string   `json:"therapist_id,omitempty"`
	GroupID      string   `json:"group_id,omitempty"`
	Time         string   `json:"time,omitempty"` // INFO:TIME as "YYYY-MM-DD HH:MM"
	PlayerName   string   `json:"player_name,omitempty"`
	GameScore    *float64 `json:"game_score,omitempty"`
	MarkerSet    string   `json:"marker_set,omitempty"`

	Warnings []string `json:"warnings,omitempty"`
}

// ReadMetadata builds the metadata of an open file.
func ReadMetadata(f *c3d.File, name string) *Metadata {
	spc := f.SamplesPerChannel()
	m := &Metadata{
		File:              name,
		ChannelNames:      append([]string{}, f.Analog.Labels...),
		ChannelCount:      len(f.Analog.Labels),
		SamplingRate:      f.Analog.Rate,
		FrameCount:        f.Frames,
		SamplesPerChannel: spc,
		PointRate:         f.Point.Rate,
		GenScale:          f.Analog.GenScale,
		Warnings:          append([]string(nil), f.Warnings...),
	}
	if f.Analog.Rate > 0 {
		m.DurationSeconds = float64(spc) / f.Analog.Rate
	}
	str := func(group, param string) string {
		if p := f.Params.Param(group, param); p != nil {
			return strings.TrimSpace(strings.Join(p.Strings(), " "))
		}
		return ""
	}
	num := func(group, param string) *float64 {
		if p := f.Params.Param(group, param); p != nil {
			if v, ok := p.Float(); ok {
				if math.IsNaN(v) || math.IsInf(v, 0) {
					// JSON has no such number: the value is left out.
					m.Warnings = append(m.Warnings, fmt.Sprintf("%s:%s is %v, not a finite number; left out", group, param, v))
					return nil
				}
				return &v
			}
		}
		return nil
	}
	m.System = str("INFO", "SYSTEM")
	m.Event = str("INFO", "EVENT")
	m.GameName = str("INFO", "GAME_NAME")
	if v := num("INFO", "GAME_LEVEL"); v != nil {
		m.Level = strconv.FormatFloat(*v, 'f', -1, 64)
	}
	m.LevelName = str("INFO", "GAME_LEVEL_NAME")
	m.Version = str("INFO", "VERSION")
	m.GameDuration = num("INFO", "DURATION")
	m.TherapistID = str("INFO", "THERAPIST_ID")
	m.GroupID = str("INFO", "GROUP_ID")
	if p := f.Params.Param("INFO", "TIME"); p != nil {
		m.Time = formatTime(p.Strings())
	}
	m.PlayerName = str("SUBJECTS", "PLAYER_NAME")
	m.GameScore = num("SUBJECTS", "GAME_SCORE")
	m.MarkerSet = str("SUBJECTS", "MARKER_SET")
	return m
}

// formatTime turns INFO:TIME's five strings (year, month, day, hour, minute)
// into "YYYY-MM-DD HH:MM"; other shapes are joined with spaces.
func formatTime(parts []string) string {
	if len(parts) == 5 {
		n := make([]int, 5)
		ok := true
		for i, s := range parts {
			v, err := strconv.Atoi(strings.TrimSpace(s))
			if err != nil {
				ok = false
				break
			}
			n[i] = v
		}
		if ok {
			return fmt.Sprintf("%04d-%02d-%02d %02d:%02d", n[0], n[1], n[2], n[3], n[4])
		}
	}
	return strings.TrimSpace(strings.Join(parts, " "))
}

// AnalyzeFile opens path and analyses it (see Analyze).
func AnalyzeFile(path string, p emg.Params, a emg.Analyzer) (*emg.Result, error) {
	return AnalyzeFileContext(context.Background(), path, p, a)
}

// AnalyzeFileContext opens path and analyses it (see AnalyzeContext).
func AnalyzeFileContext(ctx context.Context, path string, p emg.Params, a emg.Analyzer) (*emg.Result, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return nil, err
	}
	return AnalyzeContext(ctx, fh, st.Size(), path, p, a)
}

// Analyze reads the C3D file in r and analyses its analog channels. When the
// parameters give no game points, SUBJECTS:GAME_SCORE is used as the points.
// On an analysis in which every channel failed it returns the result with the
// channels' errors and an error matching emg.ErrAllChannelsFailed.
func Analyze(r io.ReaderAt, size int64, name string, p emg.Params, a emg.Analyzer) (*emg.Result, error) {
	return AnalyzeContext(context.Background(), r, size, name, p, a)
}

// AnalyzeContext is Analyze that stops when ctx is done (a job past its
// timeout, a client gone): ctx is checked before each pass over the data
// section and before each base is analysed, and a done ctx makes it return
// ctx.Err() and no result, its buffers released.
func AnalyzeContext(ctx context.Context, r io.ReaderAt, size int64, name string, p emg.Params, a emg.Analyzer) (*emg.Result, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f, err := c3d.Open(r, size)
	if err != nil {
		return nil, err
	}
	return AnalyzeOpen(ctx, f, name, p, a)
}

// AnalyzeOpen is AnalyzeContext of a file the caller has opened already
// (c3d.Open), for a caller that reads its header for its own needs too
// (phase 2: the channel labels and the therapist): the header and
// parameter section are not read again.
func AnalyzeOpen(ctx context.Context, f *c3d.File, name string, p emg.Params, a emg.Analyzer) (*emg.Result, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := CheckFile(f); err != nil {
		return nil, err
	}
	md := ReadMetadata(f, name)
	if p.GamePoints == nil && md.GameScore != nil && *md.GameScore >= 0 {
		v := *md.GameScore
		p.GamePoints = &v
	}
	rec := emg.Recording{Rate: f.Analog.Rate, Channels: make([]emg.Channel, len(f.Analog.Labels))}
	perPass := 2
	if len(p.Channels) > 0 {
		// a selection would leave the unselected half of a pair read for
		// nothing
		perPass = 1
	} else if a.Workers > 1 {
		// several workers consume bases concurrently anyway: one base per
		// pass, unless every base is in flight at once, when one pass reads
		// them all (a GHOSTLY file's two bases on two workers)
		perPass = 1
		if n := baseCount(f.Analog.Labels); n <= a.Workers {
			perPass = max(n, 1)
		}
	}
	if n := f.SamplesPerChannel(); n > 0 && len(p.Channels) == 0 {
		// Short channels: read as many bases per pass as fit in passBytes,
		// so that a file of thousands of short channels is not read once
		// per base or pair (8,000 channels of 1,000 samples: 4,000 passes
		// over 32 MB). Long channels keep the passes above.
		perPass = max(perPass, passBytes/(2*8*n))
	}
	if a.Alloc == nil && prefaultOn.Load() {
		a.Alloc = newSamples
	}
	bufs := &sampleBuffers{}
	defer bufs.drop()
	ld := newGroupLoader(ctx, f, perPass, bufs)
	for i, l := range f.Analog.Labels {
		i := i
		// emg hands each channel's samples back once it has analysed its
		// base; the next pass over the file reuses the buffers.
		rec.Channels[i] = emg.Channel{Label: l, Load: func() ([]float64, error) { return ld.load(i) }, Release: bufs.put}
	}
	res, err := a.AnalyzeContext(ctx, rec, p)
	if cerr := ctx.Err(); cerr != nil {
		// stopped, or a channel's read refused for it
		return nil, cerr
	}
	if res != nil {
		res.Metadata = md
	}
	return res, err
}

// CheckFile returns the error Analyze would fail with, from the header
// and parameters alone, for an open file that cannot be analysed: over the
// limits (a *LimitError), without analog channels or without an analog
// rate. A caller that must copy the file before analysing it (phase 2)
// checks it first through ranged reads.
func CheckFile(f *c3d.File) error {
	if err := CheckLimits(f); err != nil {
		return err
	}
	if len(f.Analog.Labels) == 0 {
		return fmt.Errorf("the file has no analog channels")
	}
	if !(f.Analog.Rate > 0) {
		return fmt.Errorf("the file states no analog sampling rate (ANALOG:RATE)")
	}
	return nil
}

// passBytes is the memory one pass over the data section may fill with
// short channels (raw and activated, 8 bytes per sample) beyond the pair of
// bases it reads anyway.
const passBytes = 16 << 20

// groupLoader reads the channels of a few bases (raw and activated, two
// bases per pass over the data section by default) together and hands each
// channel out once, so that a recording is neither read once per channel nor
// held in memory whole.
type groupLoader struct {
	ctx    context.Context
	bufs   *sampleBuffers
	f      *c3d.File
	groups []*loadGroup
	byChan map[int]*loadGroup
}

type loadGroup struct {
	mu      sync.Mutex
	chans   []int
	loaded  bool
	data    map[int][]float64
	readErr error
}

// baseCount is the number of distinct bases (CH1 for "CH1 Raw" and "CH1
// activated") among labels.
func baseCount(labels []string) int {
	seen := map[string]bool{}
	for _, k := range emg.ChannelKeys(labels) {
		seen[emg.BaseName(k)] = true
	}
	return len(seen)
}

// newGroupLoader groups basesPerPass bases per pass over the data section.
// One worker reads two bases per pass (half the passes, one base held in
// memory while the other is analysed); several workers read one base per
// pass, as they consume bases concurrently anyway.
func newGroupLoader(ctx context.Context, f *c3d.File, basesPerPass int, bufs *sampleBuffers) *groupLoader {
	keys := emg.ChannelKeys(f.Analog.Labels)
	byBase := map[string][]int{}
	var bases []string
	for i, k := range keys {
		b := emg.BaseName(k)
		if _, ok := byBase[b]; !ok {
			bases = append(bases, b)
		}
		byBase[b] = append(byBase[b], i)
	}
	sort.Strings(bases) // the order emg analyses them in
	gl := &groupLoader{ctx: ctx, bufs: bufs, f: f, byChan: map[int]*loadGroup{}}
	for i := 0; i < len(bases); i += basesPerPass {
		g := &loadGroup{}
		for _, b := range bases[i:min(i+basesPerPass, len(bases))] {
			g.chans = append(g.chans, byBase[b]...)
		}
		for _, c := range g.chans {
			gl.byChan[c] = g
		}
		gl.groups = append(gl.groups, g)
	}
	return gl
}

func (gl *groupLoader) load(ch int) ([]float64, error) {
	if err := gl.ctx.Err(); err != nil {
		return nil, err
	}
	g := gl.byChan[ch]
	if g == nil {
		return gl.f.ReadAnalog(ch)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.loaded {
		g.loaded = true
		xs, err := gl.bufs.readChannels(gl.f, g.chans)
		if err != nil {
			g.readErr = err
		} else {
			g.data = make(map[int][]float64, len(g.chans))
			for i, c := range g.chans {
				g.data[c] = xs[i]
			}
		}
	}
	if g.readErr != nil {
		return nil, g.readErr
	}
	x, ok := g.data[ch]
	if !ok {
		// handed out already (a channel asked for twice): read it again
		return gl.f.ReadAnalog(ch)
	}
	delete(g.data, ch)
	return x, nil
}
