package main

import (
	"context"
	"flag"
	"fmt"
)

func init() { register("migrate", "apply database migrations", migrateCmd) }

func migrateCmd(ctx context.Context, e env) int {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	var db dbFlags
	db.register(fs, e.getenv)
	if err := fs.Parse(e.args); err != nil {
		return 2
	}
	_, closeDB, err := db.open(ctx, e)
	if err != nil {
		return fail(e, err)
	}
	closeDB()
	fmt.Fprintln(e.stdout, "migrations applied")
	return 0
}
