package main

import (
	"strings"
	"testing"

	"github.com/gcrm/gcrm/geo/postgis/pgtest"
)

// TestBenchAssignCommand runs a small 'gcrm bench assign' end to end: both paths agree and
// the last line gives the ratio.
func TestBenchAssignCommand(t *testing.T) {
	url := pgtest.URL(t)
	code, out := gcrmRun("bench", "assign", "--customers", "3000", "--rounds", "3", "--db", url,
		"--counties", "../../../shared/data/regions/us/counties-10m.geojson",
		"--places", "../../../shared/data/places/us/geonames_cities1000_US.csv")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	last := lines[len(lines)-1]
	if !strings.Contains(out, "(0 mismatches)") || !strings.HasPrefix(last, "assign 3000 customers to 3230 counties: Go ") || !strings.Contains(last, "× faster") {
		t.Fatalf("output:\n%s", out)
	}
}
