package c3d_test

import (
	"os"
	"path/filepath"
	"testing"
)

// TestMain removes the large recording the benchmarks write.
func TestMain(m *testing.M) {
	code := m.Run()
	if bigPath != "" {
		os.RemoveAll(filepath.Dir(bigPath))
	}
	os.Exit(code)
}
