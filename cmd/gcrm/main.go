// Command gcrm is the geographic CRM server and its tools: serve, demo, migrate, import,
// bench and user. main only wires signals and the process environment into run.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
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
	e := env{args: args, getenv: getenv, stdin: stdin, stdout: stdout, stderr: stderr}
	return dispatch(ctx, e, "gcrm COMMAND [flags]", "command", commands)
}

// dispatch runs the command of set named by the first argument with the remaining ones;
// without one (or with -h) it lists the set. usage is the synopsis line, e.g.
// "gcrm import KIND FILE [flags]", noun what the set holds ("kind").
func dispatch(ctx context.Context, e env, usage, noun string, set map[string]command) int {
	prefix := strings.Fields(usage)
	prefix = prefix[:len(prefix)-2] // "gcrm import"
	if len(e.args) == 0 || e.args[0] == "help" || e.args[0] == "-h" || e.args[0] == "--help" {
		listCommands(e.stdout, usage, noun, set)
		return 0
	}
	c, ok := set[e.args[0]]
	if !ok {
		fmt.Fprintf(e.stderr, "%s: unknown %s %q\n\n", strings.Join(prefix, " "), noun, e.args[0])
		listCommands(e.stderr, usage, noun, set)
		return 2
	}
	e.args = e.args[1:]
	return c.run(ctx, e)
}

func listCommands(w io.Writer, usage, noun string, set map[string]command) {
	fmt.Fprintf(w, "usage: %s\n\n%ss:\n", usage, noun)
	for _, name := range sortedKeys(set) {
		fmt.Fprintf(w, "  %-18s %s\n", name, set[name].summary)
	}
	fmt.Fprintf(w, "\nRun '%s -h' for its flags.\n", strings.Replace(usage, " [flags]", "", 1))
}

// fail prints err for a user and returns exit code 1.
func fail(e env, err error) int {
	fmt.Fprintln(e.stderr, "gcrm:", geo.ErrorMessage(err))
	if geo.ErrorCode(err) == geo.EINTERNAL {
		fmt.Fprintln(e.stderr, "  detail:", err)
	}
	return 1
}
