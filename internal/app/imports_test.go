package app_test

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// importers returns, for every non-test Go file under root (module emgd),
// the packages importing emgd/internal/app or a package under it, by
// imported path.
func importers(t *testing.T, root string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if path != root && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || name == "testdata" || name == "vendor") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, filepath.Dir(path))
		if err != nil {
			return err
		}
		pkg := "emgd/" + filepath.ToSlash(rel)
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if p == "emgd/internal/app" || strings.HasPrefix(p, "emgd/internal/app/") {
				out[p] = append(out[p], pkg)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// internal/app is the one package that knows every other: only the
// command (cmd/emgd) imports it, and its test helper apptest is imported by
// tests only. A package under internal that imported app would make the
// wiring a dependency of what it wires.
func TestOnlyCmdImportsApp(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(root, "go.mod")); err != nil || !strings.HasPrefix(string(b), "module emgd\n") {
		t.Fatalf("module root %s: %v", root, err)
	}
	imp := importers(t, root)
	if len(imp["emgd/internal/app"]) == 0 {
		t.Fatal("no package imports emgd/internal/app: the walk found nothing")
	}
	for path, pkgs := range imp {
		for _, pkg := range pkgs {
			switch {
			case path == "emgd/internal/app" && pkg == "emgd/cmd/emgd":
			case path == "emgd/internal/app" && pkg == "emgd/internal/app/apptest":
			default:
				t.Errorf("%s imports %s (only cmd/emgd imports internal/app; apptest is for tests)", pkg, path)
			}
		}
	}
}

// The walk sees an import of app from another package, and not from a
// test file.
func TestImportersFindsOthers(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "internal", "api")
	os.MkdirAll(dir, 0o755)
	os.WriteFile(filepath.Join(dir, "api.go"), []byte("package api\nimport _ \"emgd/internal/app/apptest\"\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "api_test.go"), []byte("package api\nimport _ \"emgd/internal/app\"\n"), 0o644)
	imp := importers(t, root)
	if got := imp["emgd/internal/app/apptest"]; len(got) != 1 || got[0] != "emgd/internal/api" {
		t.Errorf("found %v", imp)
	}
	if len(imp["emgd/internal/app"]) != 0 {
		t.Errorf("a test file counted: %v", imp)
	}
}
