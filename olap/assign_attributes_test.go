package olap_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"os"
	"strings"
	"testing"

	"github.com/gcrm/gcrm/geo"
	"github.com/gcrm/gcrm/geo/postgis/pgtest"
	"github.com/gcrm/gcrm/olap"
)

const populationFile = "../../shared/data/regions/us/county_population_2010_2019.csv"

func TestImportRegionAttributes_CensusPopulation(t *testing.T) {
	ctx := context.Background()
	db := pgtest.New(t)
	importCounties(t, db)
	f, err := os.Open(populationFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rej bytes.Buffer
	w := csv.NewWriter(&rej)
	res, err := olap.ImportRegionAttributes(ctx, db, "county", f, olap.RegionAttributesOptions{Code: "fips"}, w)
	w.Flush()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(res.Columns, ",") != "census2010pop,popestimate2019" || strings.Join(res.Skipped, ",") != "state,county" {
		t.Fatalf("columns %v, skipped %v", res.Columns, res.Skipped)
	}
	rows, err := csv.NewReader(&rej).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	// 3,142 Census counties; those the boundary file lacks are rejected by code, row by row.
	if res.Updated+res.Rejected != 3142 || res.Rejected != len(rows) || res.Updated < 3100 {
		t.Fatalf("result %+v, %d reject rows", res, len(rows))
	}
	for _, r := range rows {
		if !strings.Contains(r[1], "is not known") {
			t.Errorf("reject %v: want an unknown-code reason", r)
		}
	}
	var pop float64
	var name string
	if err := db.Pool.QueryRow(ctx, `SELECT (attributes->>'census2010pop')::float8, name FROM regions WHERE level = 'county' AND code = '01001'`).Scan(&pop, &name); err != nil {
		t.Fatal(err)
	}
	if pop != 54571 || name != "Autauga" {
		t.Fatalf("01001 = %q, population %v; want Autauga, 54571", name, pop)
	}
	// The same file keyed by split state and county numbers (as Census publishes it).
	var split strings.Builder
	split.WriteString("STATE,COUNTY,POP\n1,1,1\n1,3,2\n99,1,3\n1,x,4\n1,5,abc\n")
	w = csv.NewWriter(&rej)
	rej.Reset()
	res, err = olap.ImportRegionAttributes(ctx, db, "county", strings.NewReader(split.String()), olap.RegionAttributesOptions{Code: "STATE:2+COUNTY:3"}, w)
	w.Flush()
	if err != nil {
		t.Fatal(err)
	}
	got := rej.String()
	for _, want := range []string{`4,"region code ""99001""`, `5,"code part ""COUNTY"" = ""x""`, `6,"column ""POP"": ""abc"" is not a number"`} {
		if !strings.Contains(got, want) {
			t.Errorf("rejects %q lack %q", got, want)
		}
	}
	if res.Updated != 2 || res.Rejected != 3 {
		t.Fatalf("split codes: %+v", res)
	}
	// Merged, not replaced: census2010pop is still there beside POP.
	if err := db.Pool.QueryRow(ctx, `SELECT (attributes->>'census2010pop')::float8 + (attributes->>'POP')::float8 FROM regions WHERE level = 'county' AND code = '01003'`).Scan(&pop); err != nil || pop != 182265+2 {
		t.Fatalf("01003 merged = %v, %v", pop, err)
	}
	// Renamed: the 2019 estimate as "population", the attribute the cube's penetration reads.
	f2, err := os.Open(populationFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f2.Close()
	res, err = olap.ImportRegionAttributes(ctx, db, "county", f2, olap.RegionAttributesOptions{Code: "fips", Columns: []string{"popestimate2019=population"}}, nil)
	if err != nil || strings.Join(res.Columns, ",") != "population" {
		t.Fatalf("renamed: %+v, %v", res, err)
	}
	if err := db.Pool.QueryRow(ctx, `SELECT (attributes->>'population')::float8 FROM regions WHERE level = 'county' AND code = '01001'`).Scan(&pop); err != nil || pop != 55869 {
		t.Fatalf("01001 population = %v, %v; want 55869", pop, err)
	}
	// The same file again changes nothing: no region updated, no new rev.
	var rev0, rev1 int64
	if err := db.Pool.QueryRow(ctx, `SELECT max(rev) FROM regions`).Scan(&rev0); err != nil {
		t.Fatal(err)
	}
	if _, err := f2.Seek(0, 0); err != nil {
		t.Fatal(err)
	}
	res, err = olap.ImportRegionAttributes(ctx, db, "county", f2, olap.RegionAttributesOptions{Code: "fips", Columns: []string{"popestimate2019=population"}}, nil)
	if err != nil || res.Updated != 0 {
		t.Fatalf("unchanged re-import: %+v, %v", res, err)
	}
	if err := db.Pool.QueryRow(ctx, `SELECT max(rev) FROM regions`).Scan(&rev1); err != nil || rev1 != rev0 {
		t.Fatalf("unchanged re-import moved the regions' rev %d → %d (%v)", rev0, rev1, err)
	}
	// An unknown level, a missing code column.
	if _, err := olap.ImportRegionAttributes(ctx, db, "zip", strings.NewReader("zip,pop\n1,2\n"), olap.RegionAttributesOptions{Code: "zip"}, nil); geo.ErrorCode(err) != geo.ENOTFOUND {
		t.Errorf("unknown level: %v", err)
	}
	if _, err := olap.ImportRegionAttributes(ctx, db, "county", strings.NewReader("a,b\n1,2\n"), olap.RegionAttributesOptions{Code: "fips"}, nil); geo.ErrorCode(err) != geo.EINVALID {
		t.Errorf("no code column: %v", err)
	}
}

func FuzzReadRegionAttributes(f *testing.F) {
	f.Add([]byte("fips,state,county,census2010pop,popestimate2019\n01001,Alabama,Autauga County,54571,55869\n"), "fips")
	f.Add([]byte("STATE,COUNTY,POP\n1,1,1\n1,x,2\n\"1,3\n"), "STATE:2+COUNTY:3")
	f.Add([]byte("code,v\n,1\na,NA\na,2\n"), "code:3")
	f.Fuzz(func(t *testing.T, data []byte, code string) {
		attrs, rej, err := olap.ReadRegionAttributes(bytes.NewReader(data), olap.RegionAttributesOptions{Code: code})
		if err != nil {
			if geo.ErrorCode(err) != geo.EINVALID {
				t.Fatalf("error %v is not EINVALID", err)
			}
			return
		}
		seen := map[string]bool{}
		for i, c := range attrs.Codes {
			if c == "" || seen[c] || attrs.Rows[i] < 2 || len(attrs.Values[i]) != len(attrs.Columns) {
				t.Fatalf("bad row %d: code %q values %v", attrs.Rows[i], c, attrs.Values[i])
			}
			seen[c] = true
		}
		for _, r := range rej {
			if r.Reason == "" || r.Row < 2 {
				t.Fatalf("bad reject %+v", r)
			}
		}
	})
}
