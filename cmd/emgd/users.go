package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"emgd/internal/app"
	"emgd/internal/auth"
	"emgd/internal/store"
)

// stdin is where --password-stdin reads (tests replace it).
var stdin io.Reader = os.Stdin

// subcommand is one of emgd users' or emgd tokens' subcommands.
type subcommand struct {
	name, summary string
	run           func(name string, args []string, stdout, stderr io.Writer) int
}

func runSubcommand(group string, subs []subcommand, args []string, stdout, stderr io.Writer) int {
	usage := func(w io.Writer) {
		fmt.Fprintf(w, "usage: emgd %s <subcommand> [flags]\n\nsubcommands:\n", group)
		for _, s := range subs {
			fmt.Fprintf(w, "  %-9s %s\n", s.name, s.summary)
		}
	}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stdout)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, s := range subs {
		if s.name == args[0] {
			return s.run(group+" "+s.name, args[1:], stdout, stderr)
		}
	}
	fmt.Fprintf(stderr, "emgd %s: unknown subcommand %q\n\n", group, args[0])
	usage(stderr)
	return 2
}

// withAccounts opens the database of cfg, runs fn and maps its error to an
// exit status: 2 for a usage error, 1 for any other.
func withAccounts(name string, cfg *app.Config, stderr io.Writer, fn func(ctx context.Context, a *app.Accounts) error) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	a, err := app.OpenAccounts(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "emgd %s: %v\n", name, err)
		return 1
	}
	defer a.Close()
	if err := fn(ctx, a); err != nil {
		fmt.Fprintf(stderr, "emgd %s: %v\n", name, strings.TrimPrefix(err.Error(), "usage: "))
		if errors.Is(err, app.ErrUsage) {
			return 2
		}
		return 1
	}
	return 0
}

// required checks that the flags named in pairs (name, value, ...) were
// given non-empty.
func required(name string, stderr io.Writer, pairs ...string) bool {
	for i := 0; i+1 < len(pairs); i += 2 {
		if strings.TrimSpace(pairs[i+1]) == "" {
			fmt.Fprintf(stderr, "emgd %s: --%s is required\n", name, pairs[i])
			return false
		}
	}
	return true
}

func cmdUsers(args []string, stdout, stderr io.Writer) int {
	return runSubcommand("users", []subcommand{
		{"add", "create an account (the password is generated and printed once, or read from stdin)", usersAdd},
		{"assign", "give a user a patient", usersAssign(true)},
		{"unassign", "take a patient from a user", usersAssign(false)},
		{"list", "list the accounts, their roles and patients", usersList},
		{"disable", "disable an account: its sessions and tokens stop working at once", usersDisable(true)},
		{"enable", "enable a disabled account again", usersDisable(false)},
		{"password", "set a new password (generated and printed once, or read from stdin)", usersPassword},
	}, args, stdout, stderr)
}

// readPassword reads the first line of stdin.
func readPassword() (string, error) {
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && (err != io.EOF || line == "") {
		return "", fmt.Errorf("%w: --password-stdin: no password on standard input", app.ErrUsage)
	}
	return strings.TrimRight(line, "\r\n"), nil
}

func usersAdd(name string, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet(name, "--email E --role admin|therapist [--password-stdin | --no-password] [flags]", stderr)
	var cfg app.Config
	bindDatabase(fs, &cfg)
	email := fs.String("email", "", "the account's email (required)")
	role := fs.String("role", "", "admin (everything, users and assignments) or therapist (assigned patients only) (required)")
	fromStdin := fs.Bool("password-stdin", false, "read the password from the first line of standard input instead of generating one")
	noPassword := fs.Bool("no-password", false, "no password: the account signs in through an external identity (JWT) or API tokens only")
	if code := parseFlagsOnly(fs, name, args, stderr); code >= 0 {
		return code
	}
	if !required(name, stderr, "email", *email, "role", *role) {
		return 2
	}
	if *fromStdin && *noPassword {
		fmt.Fprintf(stderr, "emgd %s: --password-stdin and --no-password exclude each other\n", name)
		return 2
	}
	return withAccounts(name, &cfg, stderr, func(ctx context.Context, a *app.Accounts) error {
		password, generated := "", false
		switch {
		case *fromStdin:
			var err error
			if password, err = readPassword(); err != nil {
				return err
			}
		case !*noPassword:
			password, generated = app.GeneratePassword(), true
		}
		u, err := a.AddUser(ctx, *email, *role, password)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "added %s (%s)\n", u.Email, u.Role)
		if generated {
			fmt.Fprintf(stdout, "password: %s\n(shown once: emgd keeps only its hash)\n", password)
		}
		return nil
	})
}

func usersPassword(name string, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet(name, "--email E [--password-stdin] [flags]", stderr)
	var cfg app.Config
	bindDatabase(fs, &cfg)
	email := fs.String("email", "", "the account's email (required)")
	fromStdin := fs.Bool("password-stdin", false, "read the password from the first line of standard input instead of generating one")
	if code := parseFlagsOnly(fs, name, args, stderr); code >= 0 {
		return code
	}
	if !required(name, stderr, "email", *email) {
		return 2
	}
	return withAccounts(name, &cfg, stderr, func(ctx context.Context, a *app.Accounts) error {
		password, generated := app.GeneratePassword(), true
		if *fromStdin {
			var err error
			if password, err = readPassword(); err != nil {
				return err
			}
			generated = false
		}
		if err := a.SetPassword(ctx, *email, password); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "new password set for %s\n", store.NormalizeEmail(*email))
		if generated {
			fmt.Fprintf(stdout, "password: %s\n(shown once: emgd keeps only its hash)\n", password)
		}
		return nil
	})
}

func usersAssign(assign bool) func(string, []string, io.Writer, io.Writer) int {
	return func(name string, args []string, stdout, stderr io.Writer) int {
		fs := newFlagSet(name, "--email E --patient P001 [flags]", stderr)
		var cfg app.Config
		bindDatabase(fs, &cfg)
		email := fs.String("email", "", "the account's email (required)")
		patient := fs.String("patient", "", "a patient code such as P001 (required)")
		if code := parseFlagsOnly(fs, name, args, stderr); code >= 0 {
			return code
		}
		if !required(name, stderr, "email", *email, "patient", *patient) {
			return 2
		}
		return withAccounts(name, &cfg, stderr, func(ctx context.Context, a *app.Accounts) error {
			e := store.NormalizeEmail(*email)
			if assign {
				added, err := a.Assign(ctx, *email, *patient)
				if err != nil {
					return err
				}
				if added {
					fmt.Fprintf(stdout, "assigned %s to %s\n", *patient, e)
				} else {
					fmt.Fprintf(stdout, "%s already had %s\n", e, *patient)
				}
				return nil
			}
			removed, err := a.Unassign(ctx, *email, *patient)
			if err != nil {
				return err
			}
			if removed {
				fmt.Fprintf(stdout, "unassigned %s from %s\n", *patient, e)
			} else {
				fmt.Fprintf(stdout, "%s did not have %s\n", e, *patient)
			}
			return nil
		})
	}
}

// userJSON is a line of emgd users list --json.
type userJSON struct {
	Email     string    `json:"email"`
	Role      string    `json:"role"`
	Disabled  bool      `json:"disabled"`
	Password  bool      `json:"password"`
	Patients  []string  `json:"patients"`
	CreatedAt time.Time `json:"created_at"`
}

func usersList(name string, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet(name, "[--json] [flags]", stderr)
	var cfg app.Config
	bindDatabase(fs, &cfg)
	asJSON := fs.Bool("json", false, "print the accounts as JSON")
	if code := parseFlagsOnly(fs, name, args, stderr); code >= 0 {
		return code
	}
	return withAccounts(name, &cfg, stderr, func(ctx context.Context, a *app.Accounts) error {
		users, err := a.Users(ctx)
		if err != nil {
			return err
		}
		if *asJSON {
			out := make([]userJSON, 0, len(users))
			for _, u := range users {
				out = append(out, userJSON{Email: u.Email, Role: u.Role, Disabled: u.Disabled, Password: u.PasswordHash != "",
					Patients: u.Patients, CreatedAt: u.CreatedAt})
			}
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			return enc.Encode(out)
		}
		if len(users) == 0 {
			fmt.Fprintln(stdout, "no accounts: the service is open to anyone who reaches its address (or needs the read token, when one is set)")
			return nil
		}
		for _, u := range users {
			state := ""
			if u.Disabled {
				state = " disabled"
			}
			patients := "all patients"
			if u.Role == store.RoleTherapist {
				patients = "patients: " + strings.Join(u.Patients, ",")
				if len(u.Patients) == 0 {
					patients = "no patients"
				}
			}
			fmt.Fprintf(stdout, "%s %s%s %s\n", u.Email, u.Role, state, patients)
		}
		return nil
	})
}

func usersDisable(disable bool) func(string, []string, io.Writer, io.Writer) int {
	return func(name string, args []string, stdout, stderr io.Writer) int {
		fs := newFlagSet(name, "--email E [flags]", stderr)
		var cfg app.Config
		bindDatabase(fs, &cfg)
		email := fs.String("email", "", "the account's email (required)")
		if code := parseFlagsOnly(fs, name, args, stderr); code >= 0 {
			return code
		}
		if !required(name, stderr, "email", *email) {
			return 2
		}
		return withAccounts(name, &cfg, stderr, func(ctx context.Context, a *app.Accounts) error {
			if err := a.SetDisabled(ctx, *email, disable); err != nil {
				return err
			}
			verb := "enabled"
			if disable {
				verb = "disabled"
			}
			fmt.Fprintf(stdout, "%s %s\n", verb, store.NormalizeEmail(*email))
			return nil
		})
	}
}

func cmdTokens(args []string, stdout, stderr io.Writer) int {
	return runSubcommand("tokens", []subcommand{
		{"create", "make an API token acting as the user (printed once)", tokensCreate},
		{"revoke", "revoke a user's API token", tokensRevoke},
		{"list", "list API tokens (names, users, dates; never the tokens)", tokensList},
	}, args, stdout, stderr)
}

func tokensCreate(name string, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet(name, "--email E --name N [flags]", stderr)
	var cfg app.Config
	bindDatabase(fs, &cfg)
	email := fs.String("email", "", "the user the token acts as (required)")
	tname := fs.String("name", "", "the token's name, unique among the user's tokens (required)")
	if code := parseFlagsOnly(fs, name, args, stderr); code >= 0 {
		return code
	}
	if !required(name, stderr, "email", *email, "name", *tname) {
		return 2
	}
	return withAccounts(name, &cfg, stderr, func(ctx context.Context, a *app.Accounts) error {
		tok, err := a.CreateToken(ctx, *email, *tname)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, tok)
		fmt.Fprintf(stderr, "emgd %s: token %q of %s: send it as Authorization: Bearer; shown once, emgd keeps only its hash\n", name, *tname, store.NormalizeEmail(*email))
		return nil
	})
}

func tokensRevoke(name string, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet(name, "--email E --name N [flags]", stderr)
	var cfg app.Config
	bindDatabase(fs, &cfg)
	email := fs.String("email", "", "the token's user (required)")
	tname := fs.String("name", "", "the token's name (required)")
	if code := parseFlagsOnly(fs, name, args, stderr); code >= 0 {
		return code
	}
	if !required(name, stderr, "email", *email, "name", *tname) {
		return 2
	}
	return withAccounts(name, &cfg, stderr, func(ctx context.Context, a *app.Accounts) error {
		if err := a.RevokeToken(ctx, *email, *tname); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "revoked token %q of %s\n", *tname, store.NormalizeEmail(*email))
		return nil
	})
}

func tokensList(name string, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet(name, "[--email E] [flags]", stderr)
	var cfg app.Config
	bindDatabase(fs, &cfg)
	email := fs.String("email", "", "only this user's tokens")
	if code := parseFlagsOnly(fs, name, args, stderr); code >= 0 {
		return code
	}
	return withAccounts(name, &cfg, stderr, func(ctx context.Context, a *app.Accounts) error {
		toks, err := a.Tokens(ctx, *email)
		if err != nil {
			return err
		}
		for _, t := range toks {
			state := "active"
			if t.RevokedAt != nil {
				state = "revoked " + t.RevokedAt.Format(time.RFC3339)
			}
			fmt.Fprintf(stdout, "%s %q created %s %s\n", t.User.Email, t.Name, t.CreatedAt.Format(time.RFC3339), state)
		}
		return nil
	})
}

func cmdAudit(args []string, stdout, stderr io.Writer) int {
	const name = "audit"
	fs := newFlagSet(name, "[--patient P] [--user E] [--from D] [--to D] [--limit N] [--json] [flags]", stderr)
	var cfg app.Config
	bindDatabase(fs, &cfg)
	patient := fs.String("patient", "", "only this patient's entries")
	user := fs.String("user", "", "only the entries this user made and, for an account, those that changed it (an email, or open/static/cli)")
	from := fs.String("from", "", "first day (YYYY-MM-DD, UTC) or time (RFC 3339)")
	to := fs.String("to", "", "last day (YYYY-MM-DD, UTC, the whole day) or time (RFC 3339)")
	limit := fs.Int("limit", 0, "at most this many entries, newest first (0: all)")
	asJSON := fs.Bool("json", false, "print one JSON object per line")
	if code := parseFlagsOnly(fs, name, args, stderr); code >= 0 {
		return code
	}
	f := store.AuditFilter{PatientCode: *patient, User: *user}
	var err error
	if *from != "" {
		if f.From, err = auth.ParseAuditTime(*from, false); err != nil {
			fmt.Fprintf(stderr, "emgd audit: --from must be a date (YYYY-MM-DD) or an RFC 3339 time\n")
			return 2
		}
	}
	if *to != "" {
		if f.To, err = auth.ParseAuditTime(*to, true); err != nil {
			fmt.Fprintf(stderr, "emgd audit: --to must be a date (YYYY-MM-DD) or an RFC 3339 time\n")
			return 2
		}
	}
	if *limit < 0 {
		fmt.Fprintf(stderr, "emgd audit: --limit must be 0 or more\n")
		return 2
	}
	enc := json.NewEncoder(stdout)
	return withAccounts(name, &cfg, stderr, func(ctx context.Context, a *app.Accounts) error {
		return a.Audit(ctx, f, *limit, func(e store.AuditEntry) error {
			if *asJSON {
				return enc.Encode(auth.AuditEntryOf(e))
			}
			// at user action patient session ip target: the account a
			// change made with emgd users or tokens concerns comes last, so
			// that the columns before it are those of every entry.
			_, err := fmt.Fprintf(stdout, "%s %s %s %s %s %s %s\n", e.At.Format("2006-01-02T15:04:05.000000Z"), dash(e.User), e.Action,
				dash(e.PatientCode), dash(e.SessionID), dash(e.IP), dash(e.Target))
			return err
		})
	})
}

// dash stands for an empty field of a line.
func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
