package main

import (
	"context"
	"fmt"
	"io"
)

func init() {
	register("bench", "benchmarks side by side with their reference: gcrm bench NAME (gcrm bench -h lists them)", benchCmd)
}

// benches lists what 'gcrm bench NAME' runs; adding one is one line here (the command lives
// in its own bench_NAME.go).
var benches = map[string]command{
	"import":  {"customer CSV import against a bare COPY of the same file", benchImport},
	"assign":  {"assign customers to counties: Go R-tree + point-in-polygon against a PostGIS ST_Contains join", benchAssign},
	"geocode": {"offline geocoding accuracy on real data (ZCTA, GeoNames, OSM) and gazetteer speed on one core", benchGeocode},
}

// benchCmd dispatches 'gcrm bench NAME …' to the benchmark with the remaining args.
func benchCmd(ctx context.Context, e env) int {
	if len(e.args) == 0 || e.args[0] == "-h" || e.args[0] == "--help" || e.args[0] == "help" {
		benchUsage(e.stdout)
		return 0
	}
	b, ok := benches[e.args[0]]
	if !ok {
		fmt.Fprintf(e.stderr, "gcrm bench: unknown benchmark %q\n\n", e.args[0])
		benchUsage(e.stderr)
		return 2
	}
	e.args = e.args[1:]
	return b.run(ctx, e)
}

func benchUsage(w io.Writer) {
	fmt.Fprintln(w, "usage: gcrm bench NAME [flags]\n\nbenchmarks:")
	for _, k := range sortedKeys(benches) {
		fmt.Fprintf(w, "  %-10s %s\n", k, benches[k].summary)
	}
	fmt.Fprintln(w, "\nRun 'gcrm bench NAME -h' for a benchmark's flags.")
}
