package main

import (
	"context"
	"fmt"
	"io"
)

func init() {
	register("import", "import data: gcrm import KIND FILE [flags] (gcrm import -h lists kinds)", importCmd)
}

// importKinds lists what 'gcrm import KIND' loads; each kind registers itself from its own
// file with registerImport.
var importKinds = map[string]command{}

func registerImport(kind, summary string, run func(ctx context.Context, e env) int) {
	importKinds[kind] = command{summary, run}
}

// importCmd dispatches 'gcrm import KIND …' to the kind's command with the remaining args.
func importCmd(ctx context.Context, e env) int {
	if len(e.args) == 0 || e.args[0] == "-h" || e.args[0] == "--help" || e.args[0] == "help" {
		importUsage(e.stdout)
		return 0
	}
	c, ok := importKinds[e.args[0]]
	if !ok {
		fmt.Fprintf(e.stderr, "gcrm import: unknown kind %q\n\n", e.args[0])
		importUsage(e.stderr)
		return 2
	}
	e.args = e.args[1:]
	return c.run(ctx, e)
}

func importUsage(w io.Writer) {
	fmt.Fprintln(w, "usage: gcrm import KIND FILE [flags]\n\nkinds:")
	for _, k := range sortedKeys(importKinds) {
		fmt.Fprintf(w, "  %-10s %s\n", k, importKinds[k].summary)
	}
	fmt.Fprintln(w, "\nRun 'gcrm import KIND -h' for a kind's flags.")
}
