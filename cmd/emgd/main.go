// Command emgd is the EMG analytics service for GHOSTLY rehabilitation
// recordings, and the command-line tools around it.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"sync"
)

type command struct {
	name    string
	summary string
	run     func(args []string, stdout, stderr io.Writer) int
}

func commands() []command {
	return []command{
		{"serve", "run the service: webhook, API and analysis workers", cmdServe},
		{"worker", "run analysis workers only", cmdWorker},
		{"migrate", "apply the database schema; migrate legacy: move the old backend's analytics in (--yes)", cmdMigrate},
		{"reconcile", "give stored .c3d objects whose event was lost a session (--dry-run)", cmdReconcile},
		{"purge", "delete sessions, analyses and files older than --older-than (--yes)", cmdPurge},
		{"inspect", "show a C3D file's header and parameters (--json)", cmdInspect},
		{"export", "write a C3D file's analog channels as CSV (--csv)", cmdExport},
		{"analyze", "analyse C3D recordings: EMG analytics and session scores (--json, --csv)", cmdAnalyze},
		{"users", "manage accounts: users add|assign|unassign|list|disable|enable|password", cmdUsers},
		{"tokens", "manage API tokens: tokens create|revoke|list", cmdTokens},
		{"audit", "print the audit trail, one line per entry, newest first (--patient, --user, --from, --to)", cmdAudit},
	}
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "emgd: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: emgd <command> [flags] [args]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "commands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\nRun 'emgd <command> -h' for a command's flags.")
}

// parseInterspersed parses flags that may appear before, between or after
// the positional arguments, and returns the positional arguments. "--" ends
// flag parsing. Flags not given take their value from the environment
// variable their usage names (see applyEnv).
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, applyEnv(fs)
		}
		if len(args) > len(rest) && args[len(args)-len(rest)-1] == "--" {
			return append(pos, rest...), applyEnv(fs)
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// parseFlagsOnly parses args, which must hold flags only, for the command
// name. It returns the exit status to stop with (0 after -h, 2 on a bad
// flag or an argument), or -1 to go on.
func parseFlagsOnly(fs *flag.FlagSet, name string, args []string, stderr io.Writer) int {
	if _, err := parseInterspersed(fs, args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "emgd %s: unexpected argument %q\n", name, fs.Arg(0))
		return 2
	}
	return -1
}

func newFlagSet(name, usageLine string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: emgd %s %s\n", name, usageLine)
		fs.PrintDefaults()
	}
	return fs
}

// envInUsage finds the environment variable a flag's usage ends with:
// "... (EMGD_WORKERS)", or "(EMGD_LOG_JSON=1)" for a boolean.
var envInUsage = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`\((EMGD_[A-Z0-9_]+)(?:=1)?\)$`) })

// applyEnv gives every flag of fs that was not set on the command line the
// value of the environment variable its usage names, when that variable is
// set. A value the flag refuses stops the command with a message naming the
// variable: a bad setting never falls back to the default unnoticed.
func applyEnv(fs *flag.FlagSet) error {
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var errs []error
	fs.VisitAll(func(f *flag.Flag) {
		m := envInUsage().FindStringSubmatch(f.Usage)
		if m == nil || given[f.Name] {
			return
		}
		v := os.Getenv(m[1])
		if v == "" { // unset and empty alike leave the default
			return
		}
		if err := f.Value.Set(v); err != nil {
			errs = append(errs, fmt.Errorf("%s=%q: invalid value for --%s: %v", m[1], v, f.Name, unwrapFlagErr(err)))
		}
	})
	if err := errors.Join(errs...); err != nil {
		fmt.Fprintf(fs.Output(), "emgd %s: %v\n", fs.Name(), err)
		return err
	}
	return nil
}

// unwrapFlagErr shortens strconv's errors ("strconv.ParseInt: parsing
// \"two\": invalid syntax") to their reason.
func unwrapFlagErr(err error) error {
	var ne *strconv.NumError
	if errors.As(err, &ne) {
		return ne.Err
	}
	return err
}
