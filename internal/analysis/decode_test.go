package analysis

import (
	"math"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"emgd/c3d"
	"emgd/internal/testenv"
)

// TestReadChannelsMatchesC3D checks that the fast decoder gives package
// c3d's samples bit for bit, on written files and on the shared C3D and
// GHOSTLY files (every layout; the ones it does not handle fall back to c3d).
func TestReadChannelsMatchesC3D(t *testing.T) {
	dir := t.TempDir()
	written := filepath.Join(dir, "synthetic.c3d")
	writeSynthetic(t, written, 3, 990, 7)
	paths := []string{written}
	for _, sub := range []string{"c3d", "ghostly"} {
		m, _ := filepath.Glob(filepath.Join(testenv.Testdata(t, sub), "*.[cC]3[dD]"))
		paths = append(paths, m...)
	}
	checked := 0
	for _, path := range paths {
		fh, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		st, _ := fh.Stat()
		f, err := c3d.Open(fh, st.Size())
		if err != nil || f.Analog.Count == 0 {
			fh.Close()
			continue
		}
		var chs []int
		for ch := f.Analog.Count - 1; ch >= 0; ch -= 2 { // some, out of order
			chs = append(chs, ch)
		}
		want, werr := f.ReadAnalogChannels(chs)
		for round := 0; round < 2; round++ { // the second round reuses buffers
			got, err := readChannels(f, chs)
			if (err != nil) != (werr != nil) {
				t.Fatalf("%s: error %v, c3d %v", path, err, werr)
			}
			for j := range want {
				if len(got[j]) != len(want[j]) {
					t.Fatalf("%s channel %d: %d samples, c3d %d", path, chs[j], len(got[j]), len(want[j]))
				}
				for i, v := range want[j] {
					if math.Float64bits(got[j][i]) != math.Float64bits(v) {
						t.Fatalf("%s channel %d sample %d: %v, c3d %v", path, chs[j], i, got[j][i], v)
					}
				}
			}
			for _, x := range got {
				putSamples(x)
			}
		}
		checked++
		fh.Close()
	}
	if checked < 3 {
		t.Fatalf("only %d files checked", checked)
	}
}

// TestKeepFreedMemory: an analysis that allocated long buffers returns the
// free memory to the system at its end (a forced collection), unless the
// process keeps it (KeepFreedMemory, emgd analyze under its memory limit).
func TestKeepFreedMemory(t *testing.T) {
	defer KeepFreedMemory(false)
	forced := func(keep bool) uint32 {
		KeepFreedMemory(keep)
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		var b sampleBuffers
		b.put(b.get(maxPooledSamples + 1))
		b.drop()
		runtime.ReadMemStats(&after)
		return after.NumForcedGC - before.NumForcedGC
	}
	if n := forced(false); n != 1 {
		t.Errorf("%d forced collections after a long analysis, want 1 (debug.FreeOSMemory)", n)
	}
	if n := forced(true); n != 0 {
		t.Errorf("%d forced collections with KeepFreedMemory, want 0", n)
	}
}
