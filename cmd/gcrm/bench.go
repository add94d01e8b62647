package main

import (
	"context"
	"os"
	"runtime/pprof"
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
	return dispatch(ctx, e, "gcrm bench NAME [flags]", "benchmark", benches)
}

// startCPUProfile profiles this process into the file GCRM_BENCH_CPUPROFILE names, if any,
// until the returned stop is called.
func startCPUProfile(e env) (stop func(), err error) {
	path := e.getenv("GCRM_BENCH_CPUPROFILE")
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}
