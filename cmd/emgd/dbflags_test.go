package main

import (
	"strings"
	"testing"
)

// flagHelp splits a flag set's help (flag.PrintDefaults) into each flag's
// lines, by name.
func flagHelp(help string) map[string]string {
	out := map[string]string{}
	name := ""
	for line := range strings.SplitSeq(help, "\n") {
		if rest, ok := strings.CutPrefix(line, "  -"); ok {
			name, _, _ = strings.Cut(rest, " ")
			out[name] = line
			continue
		}
		if name != "" && strings.HasPrefix(line, "    ") {
			out[name] += "\n" + line
		}
	}
	return out
}

// TestDatabaseFlagsSameForServeAndUsers: every command that opens the
// database has serve's --data-dir and --database-url, with the same help,
// defaults and variables.
func TestDatabaseFlagsSameForServeAndUsers(t *testing.T) {
	t.Setenv("EMGD_DATA_DIR", "")
	t.Setenv("EMGD_DATABASE_URL", "")
	help := func(args ...string) map[string]string {
		t.Helper()
		code, _, stderr := runCLI(append(args, "-h")...)
		if code != 0 {
			t.Fatalf("emgd %s -h: exit %d\n%s", strings.Join(args, " "), code, stderr)
		}
		return flagHelp(stderr)
	}
	serve := help("serve")
	for _, f := range []string{"data-dir", "database-url"} {
		if !strings.Contains(serve[f], "(EMGD_") {
			t.Fatalf("serve --%s: %q", f, serve[f])
		}
	}
	for _, cmd := range [][]string{
		{"worker"}, {"migrate"}, {"reconcile"}, {"purge"},
		{"users", "add"}, {"users", "assign"}, {"users", "unassign"}, {"users", "list"}, {"users", "disable"},
		{"users", "enable"}, {"users", "password"}, {"tokens", "create"}, {"tokens", "revoke"}, {"tokens", "list"}, {"audit"},
	} {
		got := help(cmd...)
		for _, f := range []string{"data-dir", "database-url"} {
			if got[f] != serve[f] {
				t.Errorf("emgd %s --%s:\n%s\nserve has:\n%s", strings.Join(cmd, " "), f, got[f], serve[f])
			}
		}
	}
}
