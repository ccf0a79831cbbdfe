// Package testenv locates shared test data and external services for tests.
//
// Tests that need something outside the repository (the shared C3D files,
// PostgreSQL, an S3 server, Chromium) call Require, which skips the test with a
// message when the resource is absent, or fails it when EMGD_REQUIRE_SERVICES=1
// (as .ci/run sets), so that CI never passes by skipping.
package testenv

import (
	"os"
	"path/filepath"
	"testing"
)

// Strict reports whether missing services must fail tests instead of skipping them.
func Strict() bool { return os.Getenv("EMGD_REQUIRE_SERVICES") == "1" }

// Require skips t (or fails it under EMGD_REQUIRE_SERVICES=1) with reason.
func Require(t testing.TB, reason string) {
	t.Helper()
	if Strict() {
		t.Fatalf("required by EMGD_REQUIRE_SERVICES=1: %s", reason)
	}
	t.Skip(reason)
}

// ModuleRoot returns the directory holding go.mod, walking up from the working directory.
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", os.ErrNotExist
		}
		dir = parent
	}
}

// TestdataDir returns the shared test data folder: $EMGD_TESTDATA, else
// <module root>/../shared/testdata. It returns "" when neither exists.
func TestdataDir() string {
	if d := os.Getenv("EMGD_TESTDATA"); d != "" {
		if st, err := os.Stat(d); err == nil && st.IsDir() {
			return d
		}
		return ""
	}
	root, err := ModuleRoot()
	if err != nil {
		return ""
	}
	d := filepath.Join(filepath.Dir(root), "shared", "testdata")
	if st, err := os.Stat(d); err == nil && st.IsDir() {
		return d
	}
	return ""
}

// Testdata returns the path of a file or folder under the shared test data
// (elems joined), skipping or failing t when it is absent.
func Testdata(t testing.TB, elems ...string) string {
	t.Helper()
	d := TestdataDir()
	if d == "" {
		Require(t, "shared test data not found (set EMGD_TESTDATA or place shared/ beside the repository)")
	}
	p := filepath.Join(append([]string{d}, elems...)...)
	if _, err := os.Stat(p); err != nil {
		Require(t, "shared test data missing: "+p)
	}
	return p
}
