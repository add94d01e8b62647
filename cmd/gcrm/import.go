package main

import "context"

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
	return dispatch(ctx, e, "gcrm import KIND FILE [flags]", "kind", importKinds)
}
