package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"emgd/internal/app"
)

func cmdServe(args []string, stdout, stderr io.Writer) int {
	return runServer("serve", args, stderr, true)
}

func cmdWorker(args []string, stdout, stderr io.Writer) int {
	return runServer("worker", args, stderr, false)
}

// runServer parses the flags of serve (withHTTP) or worker and runs
// app.Run until SIGINT or SIGTERM.
func runServer(name string, args []string, stderr io.Writer, withHTTP bool) int {
	fs := newFlagSet(name, "[flags]", stderr)
	var cfg serverConfig
	cfg.bind(fs, withHTTP)
	if code := parseFlagsOnly(fs, name, args, stderr); code >= 0 {
		return code
	}
	if err := cfg.validate(); err != nil {
		fmt.Fprintf(stderr, "emgd %s: %v\n", name, err)
		return 2
	}
	log := cfg.appConfig().Logger(stderr)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := app.Run(ctx, cfg.appConfig(), log, nil); err != nil {
		log.Error(name+" stopped", "error", err)
		return 1
	}
	return 0
}

func cmdMigrate(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "legacy" {
		return cmdMigrateLegacy(args[1:], stdout, stderr)
	}
	fs := newFlagSet("migrate", "[flags]", stderr)
	var cfg serverConfig
	cfg.bind(fs, false)
	if code := parseFlagsOnly(fs, "migrate", args, stderr); code >= 0 {
		return code
	}
	dialect, err := app.Migrate(context.Background(), cfg.appConfig())
	if err != nil {
		fmt.Fprintf(stderr, "emgd migrate: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "schema up to date (%s)\n", dialect)
	return 0
}
