// Package layering holds only a test: it keeps SQL and River behind the
// packages that own them, by reading the imports and calls of every
// non-test Go file of the module.
//
//   - database/sql and the SQL drivers (pgx, modernc SQLite, lib/pq, ...)
//     are imported only by internal/store (and its storetest suite),
//     internal/jobs and internal/legacy (which reads the old backend's
//     database);
//   - River (github.com/riverqueue/...) only by internal/jobs;
//   - store.NativeOf and store.NativeTx, the driver's handles under a store,
//     are called only by internal/jobs (and inside internal/store).
//
// Tests may do more (set up a state no method makes); they are not read.
package layering

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

const module = "emgd"

// sqlImports are the import paths (or path prefixes, ending in /) of
// database/sql and SQL drivers.
var sqlImports = []string{
	"database/sql",
	"github.com/jackc/",
	"modernc.org/sqlite",
	"github.com/lib/pq",
	"github.com/mattn/go-sqlite3",
	"github.com/go-sql-driver/",
	"github.com/pressly/goose/",
}

const riverPrefix = "github.com/riverqueue/"

func matches(path, prefix string) bool {
	if strings.HasSuffix(prefix, "/") {
		return strings.HasPrefix(path, prefix)
	}
	return path == prefix || strings.HasPrefix(path, prefix+"/")
}

func within(pkg string, owners ...string) bool {
	for _, o := range owners {
		if pkg == o || strings.HasPrefix(pkg, o+"/") {
			return true
		}
	}
	return false
}

// check returns the rule violations of one parsed non-test file of package
// pkg (its import path).
func check(pkg string, fset *token.FileSet, f *ast.File) []string {
	var out []string
	storeName := ""
	for _, imp := range f.Imports {
		path, _ := strconv.Unquote(imp.Path.Value)
		pos := fset.Position(imp.Pos())
		for _, p := range sqlImports {
			if matches(path, p) && !within(pkg, module+"/internal/store", module+"/internal/jobs", module+"/internal/legacy") {
				out = append(out, pos.String()+": "+pkg+" imports "+path+" (SQL stays in internal/store, internal/jobs and internal/legacy)")
			}
		}
		if matches(path, riverPrefix) && !within(pkg, module+"/internal/jobs") {
			out = append(out, pos.String()+": "+pkg+" imports "+path+" (River stays in internal/jobs)")
		}
		out = append(out, direction(pkg, path, pos.String())...)
		if path == module+"/internal/store" {
			storeName = "store"
			if imp.Name != nil {
				storeName = imp.Name.Name
			}
		}
	}
	if storeName == "" || within(pkg, module+"/internal/jobs", module+"/internal/store") {
		return out
	}
	ast.Inspect(f, func(n ast.Node) bool {
		sel, ok := n.(*ast.SelectorExpr)
		if !ok {
			return true
		}
		if x, ok := sel.X.(*ast.Ident); ok && x.Name == storeName && (sel.Sel.Name == "NativeOf" || sel.Sel.Name == "NativeTx") {
			out = append(out, fset.Position(sel.Pos()).String()+": "+pkg+" uses store."+sel.Sel.Name+" (for internal/jobs only; add a store method instead)")
		}
		return true
	})
	return out
}

func moduleRoot(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && strings.HasPrefix(string(b), "module "+module+"\n") {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod of module " + module + " not found")
		}
		dir = parent
	}
}

// TestSQLAndRiverStayBehindTheirPackages reads every non-test Go file of
// the module.
func TestSQLAndRiverStayBehindTheirPackages(t *testing.T) {
	root := moduleRoot(t)
	fset := token.NewFileSet()
	var violations []string
	files := 0
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
		rel, err := filepath.Rel(root, filepath.Dir(path))
		if err != nil {
			return err
		}
		pkg := module
		if rel != "." {
			pkg += "/" + filepath.ToSlash(rel)
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		files++
		violations = append(violations, check(pkg, fset, f)...)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 50 {
		t.Fatalf("read only %d Go files under %s", files, root)
	}
	sort.Strings(violations)
	for _, v := range violations {
		t.Error(v)
	}
}

// The check itself finds each kind of violation, and allows the owners.
func TestCheckFindsViolations(t *testing.T) {
	cases := []struct {
		pkg, src string
		want     int
	}{
		{"emgd/internal/service", `package service; import "github.com/riverqueue/river"; var _ river.Job[int]`, 1},
		{"emgd/internal/service", `package service; import "github.com/riverqueue/river/rivertype"; var _ rivertype.JobState`, 1},
		{"emgd/cmd/emgd", `package main; import _ "database/sql"`, 1},
		{"emgd/cmd/emgd", `package main; import "github.com/jackc/pgx/v5/pgxpool"; var _ *pgxpool.Pool`, 1},
		{"emgd/internal/api", `package api; import _ "modernc.org/sqlite"`, 1},
		{"emgd/internal/service", `package service; import "emgd/internal/store"; var _, _ = store.NativeOf(nil)`, 1},
		{"emgd/internal/service", `package service; import st "emgd/internal/store"; var _ = st.NativeTx(nil)`, 1},
		{"emgd/internal/legacy", `package legacy; import "github.com/riverqueue/river"; var _ river.Job[int]`, 1},
		{"emgd/internal/legacy", `package legacy; import "github.com/jackc/pgx/v5/pgxpool"; import "emgd/internal/store"; var _ *pgxpool.Pool; var _ = store.NativeTx(nil)`, 1},
		// The owners.
		{"emgd/internal/jobs", `package jobs; import "database/sql"; import "github.com/riverqueue/river"; import "emgd/internal/store"; var _ *sql.DB; var _ river.Job[int]; var _ = store.NativeTx(nil)`, 0},
		{"emgd/internal/store", `package store; import "database/sql"; import _ "modernc.org/sqlite"; var _ *sql.DB`, 0},
		{"emgd/internal/store/storetest", `package storetest; import "database/sql"; import "emgd/internal/store"; var _ *sql.DB; var _, _ = store.NativeOf(nil)`, 0},
		{"emgd/internal/legacy", `package legacy; import "github.com/jackc/pgx/v5/pgxpool"; var _ *pgxpool.Pool`, 0},
		{"emgd/internal/service", `package service; import "emgd/internal/store"; var _ store.Store`, 0},
		{"emgd/internal/storex", `package storex; import _ "database/sql"`, 1},
		// Dependencies flow inward.
		{"emgd/emg", `package emg; import _ "emgd/c3d"`, 1},
		{"emgd/c3d", `package c3d; import _ "golang.org/x/sync/errgroup"`, 1},
		{"emgd/emg", `package emg; import _ "math"; import _ "context"`, 0},
		{"emgd/internal/service", `package service; import _ "net/http"; import _ "emgd/internal/webhook"`, 2},
		{"emgd/internal/analysis", `package analysis; import _ "emgd/internal/api/httperr"`, 1},
		{"emgd/internal/service", `package service; import _ "emgd/internal/app"`, 1},
		{"emgd/internal/api", `package api; import _ "emgd/internal/app"`, 1},
		{"emgd/internal/app", `package app; import _ "emgd/cmd/emgd"`, 1},
		{"emgd/cmd/emgd", `package main; import _ "emgd/internal/app"`, 0},
		{"emgd/internal/storage", `package storage; import _ "net/http"`, 0},
	}
	for _, c := range cases {
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, "x.go", c.src, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		if got := check(c.pkg, fset, f); len(got) != c.want {
			t.Errorf("%s: %q: %d violations %q, want %d", c.pkg, c.src, len(got), got, c.want)
		}
	}
}

// transport lists what a package that knows no transport may not import.
var transport = []string{
	"net/http",
	module + "/internal/webhook",
	module + "/internal/api",
	module + "/internal/apidoc",
	module + "/internal/signals",
	module + "/internal/upload",
	module + "/internal/oldapi",
	module + "/internal/web",
}

// direction checks that dependencies flow inward (cmd -> internal/app ->
// internal -> emg, c3d): c3d and emg import only the standard library,
// internal/analysis and internal/service know no transport, only cmd/emgd
// imports internal/app, and nothing imports a command.
func direction(pkg, path, pos string) []string {
	var out []string
	std := !strings.Contains(strings.SplitN(path, "/", 2)[0], ".") && !matches(path, module)
	switch {
	case within(pkg, module+"/c3d", module+"/emg") && !std:
		out = append(out, pos+": "+pkg+" imports "+path+" (c3d and emg use the standard library only)")
	case within(pkg, module+"/internal/service", module+"/internal/analysis", module+"/internal/store", module+"/internal/jobs"):
		for _, t := range transport {
			if matches(path, t) {
				out = append(out, pos+": "+pkg+" imports "+path+" (the pipeline, the analysis, the store and the queue know no transport)")
			}
		}
	}
	if matches(path, module+"/internal/app") && !within(pkg, module+"/cmd/emgd", module+"/internal/app") {
		out = append(out, pos+": "+pkg+" imports "+path+" (only cmd/emgd imports the wiring)")
	}
	if matches(path, module+"/cmd") {
		out = append(out, pos+": "+pkg+" imports "+path+" (nothing imports a command)")
	}
	return out
}
