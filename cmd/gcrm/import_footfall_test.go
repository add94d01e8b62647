package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gcrm/gcrm/geo/postgis/pgtest"
)

func gcrmRun(args ...string) (int, string) {
	var out bytes.Buffer
	code := run(context.Background(), args, func(string) string { return "" }, strings.NewReader(""), &out, &out)
	return code, out.String()
}

// TestImportFootfallCommand imports the real Melbourne files through run(), then a broken
// file whose rejects land beside it with their row numbers.
func TestImportFootfallCommand(t *testing.T) {
	url := pgtest.URL(t)
	m := "../../../shared/data/footfall/melbourne/"
	code, out := gcrmRun("import", "footfall", m+"hourly_counts_January_2018.csv", "--format", "wide",
		"--sensors", m+"sensor_locations.csv", "--columns", "../../crm/testdata/melbourne_2018_columns.csv",
		"--tz", "Australia/Melbourne", "--db", url, "--rejects", filepath.Join(t.TempDir(), "r.csv"))
	if code != 0 || !strings.Contains(out, "31992 hourly values stored (3979 missing, kept as missing) for 43 sensors, 0 rejected") ||
		!strings.Contains(out, "77 sensors") || !strings.Contains(out, "Spring St-Lonsdale St (South)") {
		t.Fatalf("wide: exit %d\n%s", code, out)
	}
	code, out = gcrmRun("import", "footfall", m+"hourly_counts_January_2019_long_with_latlon.csv", "--tz", "Australia/Melbourne", "--db", url,
		"--rejects", filepath.Join(t.TempDir(), "r.csv"))
	if code != 0 || !strings.Contains(out, "35882 hourly values stored (0 missing, kept as missing) for 51 sensors") {
		t.Fatalf("long: exit %d\n%s", code, out)
	}
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.csv")
	os.WriteFile(bad, []byte("Date,Hour,State Library,Webb Bridge\n01/02/2018,0,12,-1\n01/02/2018,25,1,2\n01/02/2018,1,x,7\n"), 0o644)
	code, out = gcrmRun("import", "footfall", bad, "--format", "wide", "--sensors", m+"sensor_locations.csv", "--tz", "Australia/Melbourne", "--db", url)
	if code != 2 || !strings.Contains(out, "1 rejected") && !strings.Contains(out, "2 rejected") {
		t.Fatalf("bad: exit %d\n%s", code, out)
	}
	f, err := os.Open(filepath.Join(dir, "bad.rejects.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{{"_row", "_reason"}, {"3", `hour "25" is not a whole hour 0..23`}, {"4", `column "State Library": count "x" is not a whole number (write -1 or leave it blank when missing)`}}
	if len(rows) != len(want) {
		t.Fatalf("rejects %q, want %q", rows, want)
	}
	for i := range want {
		if rows[i][0] != want[i][0] || rows[i][1] != want[i][1] {
			t.Errorf("reject %d = %q, want %q", i, rows[i], want[i])
		}
	}
	if code, out := gcrmRun("import", "footfall", bad, "--format", "sideways", "--db", url); code != 1 || !strings.Contains(out, "not long or wide") {
		t.Errorf("bad format: exit %d %s", code, out)
	}
}

// TestImportRegionAttributesCommand merges the Census county population into counties
// (a small set imported here) and reports unknown codes row by row.
func TestImportRegionAttributesCommand(t *testing.T) {
	url := pgtest.URL(t)
	dir := t.TempDir()
	regions := filepath.Join(dir, "c.geojson")
	os.WriteFile(regions, []byte(`{"type":"FeatureCollection","features":[
		{"type":"Feature","id":"01001","properties":{"name":"Autauga"},"geometry":{"type":"Polygon","coordinates":[[[-86.9,32.3],[-86.4,32.3],[-86.4,32.7],[-86.9,32.7],[-86.9,32.3]]]}},
		{"type":"Feature","id":"01003","properties":{"name":"Baldwin"},"geometry":{"type":"Polygon","coordinates":[[[-88,30.2],[-87.4,30.2],[-87.4,31.3],[-88,31.3],[-88,30.2]]]}}]}`), 0o644)
	if code, out := gcrmRun("import", "regions", regions, "--level", "county", "--db", url); code != 0 {
		t.Fatalf("import regions: exit %d\n%s", code, out)
	}
	pop := "../../../shared/data/regions/us/county_population_2010_2019.csv"
	rej := filepath.Join(dir, "pop.rejects.csv")
	code, out := gcrmRun("import", "region-attributes", pop, "--level", "county", "--code-col", "fips", "--db", url, "--rejects", rej)
	if code != 2 || !strings.Contains(out, "merged census2010pop, popestimate2019 into 2 regions of level county, 3140 rows rejected") ||
		!strings.Contains(out, "text columns left out: state, county") {
		t.Fatalf("exit %d\n%s", code, out)
	}
	b, _ := os.ReadFile(rej)
	if !strings.HasPrefix(string(b), "_row,_reason\n4,\"region code \"\"01005\"\" of level county is not known") {
		t.Errorf("rejects start %q", string(b[:min(len(b), 200)]))
	}
	if code, out := gcrmRun("import", "region-attributes", pop, "--level", "county", "--code-col", "GEOID", "--db", url); code != 1 || !strings.Contains(out, `code column "GEOID" is not in the header`) {
		t.Errorf("bad code column: exit %d %s", code, out)
	}
}
