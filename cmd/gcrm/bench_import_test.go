package main

import (
	"context"
	"strings"
	"testing"

	"github.com/gcrm/gcrm/geo/postgis/pgtest"
)

// TestBenchImportCommand runs the import benchmark on a small generated file: both sides
// load every row, and the server's CPU is measured next to the wall time.
func TestBenchImportCommand(t *testing.T) {
	code, out := gcrmRun("bench", "import", "--rows", "3000", "--rounds", "3", "--db", pgtest.URL(t),
		"--places", "../../../shared/data/places/us/geonames_cities1000_US.csv")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	for _, want := range []string{"rows 3,000, rejected 0", "CPU (gcrm + PostgreSQL processes) import/COPY = ", "\nimport/COPY = "} {
		if !strings.Contains(out, want) {
			t.Fatalf("output lacks %q:\n%s", want, out)
		}
	}
}

// TestCPUMeter: the server's CPU grows by about what a query spent on it.
func TestCPUMeter(t *testing.T) {
	ctx := context.Background()
	db := pgtest.New(t)
	m := newCPUMeter(ctx, db)
	_, s0 := m.read()
	if _, err := db.Pool.Exec(ctx, `SELECT count(*) FROM generate_series(1, 5000000)`); err != nil {
		t.Fatal(err)
	}
	_, s1 := m.read()
	if s0 < 0 || s1-s0 < 100e6 {
		t.Fatalf("server CPU %v → %v: a 5 M row series should cost at least 0.1 s", s0, s1)
	}
}
