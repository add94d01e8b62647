// Command gcrm is the geographic CRM server and its tools: serve, demo, migrate, import,
// bench and user. main only wires signals and the process environment into run.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/gcrm/gcrm/geo"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// env is what a command gets from the process: arguments, environment and streams.
type env struct {
	args   []string
	getenv func(string) string
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}

// command is one gcrm subcommand. It returns the process exit code.
type command struct {
	summary string
	run     func(ctx context.Context, e env) int
}

// commands lists every subcommand; each lives in its own file.
var commands = map[string]command{}

func register(name, summary string, run func(ctx context.Context, e env) int) {
	commands[name] = command{summary, run}
}

// run executes gcrm with args and returns the exit code (0 ok, 1 failure, 2 partial/usage).
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stdout)
		return 0
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "gcrm: unknown command %q\n\n", args[0])
		usage(stderr)
		return 2
	}
	return c.run(ctx, env{args: args[1:], getenv: getenv, stdin: stdin, stdout: stdout, stderr: stderr})
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: gcrm COMMAND [flags]\n\ncommands:")
	for _, name := range sortedKeys(commands) {
		fmt.Fprintf(w, "  %-10s %s\n", name, commands[name].summary)
	}
	fmt.Fprintln(w, "\nRun 'gcrm COMMAND -h' for a command's flags.")
}

// fail prints err for a user and returns exit code 1.
func fail(e env, err error) int {
	fmt.Fprintln(e.stderr, "gcrm:", geo.ErrorMessage(err))
	if geo.ErrorCode(err) == geo.EINTERNAL {
		fmt.Fprintln(e.stderr, "  detail:", err)
	}
	return 1
}
