package crm_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/gcrm/gcrm/crm"
	"github.com/gcrm/gcrm/geo"
	"github.com/gcrm/gcrm/geo/postgis"
	"github.com/gcrm/gcrm/geo/postgis/pgtest"
	"github.com/paulmach/orb"
)

const importHeader = "external_id,name,kind,lat,lon,street,city,region,postcode,country,segment,status,owner,revenue,email,phone,consent_email,tier\n"

func countCustomers(t *testing.T, db *postgis.DB) int {
	t.Helper()
	var n int
	if err := db.Pool.QueryRow(context.Background(), `SELECT count(*) FROM customers`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestImport_Rejects imports one file holding every kind of bad row between good ones: each
// bad row is rejected with its row number and a reason naming the field, and every good row
// lands.
func TestImport_Rejects(t *testing.T) {
	// Into an empty table the rows are bulk-loaded straight into customers; into one with
	// records they go through the staging table and the upsert. Both must reject alike.
	t.Run("Bulk", func(t *testing.T) { testImportRejects(t, false) })
	t.Run("Upsert", func(t *testing.T) { testImportRejects(t, true) })
}

// importStore returns a store on a new database, holding one record when seeded: an import
// then goes through the staging table and the upsert instead of the bulk load.
func importStore(t *testing.T, seeded bool) (*postgis.DB, *crm.Store) {
	t.Helper()
	db := pgtest.New(t)
	s := crm.NewStore(db)
	if seeded {
		if err := s.Create(context.Background(), &crm.Customer{Name: "Already there"}); err != nil {
			t.Fatal(err)
		}
	}
	return db, s
}

func testImportRejects(t *testing.T, seeded bool) {
	ctx := context.Background()
	db, s := importStore(t, seeded)
	extra := 0
	if seeded {
		extra = 1
	}
	good := func(id string) string {
		return id + ",Acme " + id + ",customer,30.27,-97.74,1 Main St,Austin,TX,78701,US,smb,active,rep1,1000.50,a@example.com,555,yes,gold\n"
	}
	tests := []struct {
		name   string
		line   string // one data row (or more, for broken quoting)
		reason string // expected in the reason of the row
	}{
		{"NoCoordinates", "n1,No Coords,customer,,,1 Main St,Austin,TX,78701,US,,,,,,,,\n", "no coordinates (lat/lon): add them or import with --geocode"},
		{"LatOutOfRange", "n2,Far,customer,123.4,10,,,,,,,,,,,,,\n", "lat 123.4 is outside -90..90"},
		{"LonOutOfRange", "n3,Far,customer,10,-200,,,,,,,,,,,,,\n", "lon -200 is outside -180..180"},
		{"LatNotNumber", "n4,Bad,customer,north,10,,,,,,,,,,,,,\n", `lat "north" is not a number`},
		{"LonMissing", "n5,Half,customer,10,,,,,,,,,,,,,,\n", `lon is empty but lat is "10"`},
		{"UnknownKind", "n6,Alien,martian,10,10,,,,,,,,,,,,,\n", `kind "martian" is not one of customer, prospect, lead`},
		{"BadRevenue", "n7,Rich,customer,10,10,,,,,,,,,12k,,,,\n", `revenue "12k" is not a number`},
		{"BadEmail", "n8,Mail,customer,10,10,,,,,,,,,,not-an-address,,,\n", `email "not-an-address" is not an e-mail address`},
		{"BadConsent", "n9,Consent,customer,10,10,,,,,,,,,,,,maybe,\n", `consent_email "maybe" is not yes or no`},
		{"EmptyName", "n10,,customer,10,10,,,,,,,,,,,,,\n", "name is empty"},
		{"FieldCount", "n11,Short,customer,10,10\n", "has 5 fields but the header has 18"},
		{"BareQuote", "n12,Bad\"Quote,customer,10,10,,,,,,,,,,,,,\n", "a quote appears inside an unquoted field"},
		{"TextAfterQuote", "n13,\"Quoted\"extra,customer,10,10,,,,,,,,,,,,,\n", "text follows a closing quote"},
		{"UnclosedQuote", "n14,\"Never closed,customer,10,10,,,,,,,,,,,,,\n", "a quoted field is not closed"},
		{"Latin1", "n15,Caf\xe9,customer,10,10,,,,,,,,,,,,,\n", "not valid UTF-8; save the file as UTF-8"},
		{"NUL", "n16,Nul\x00l,customer,10,10,,,,,,,,,,,,,\n", "NUL byte"},
		{"DuplicateID", "g1,Again,customer,10,10,,,,,,,,,,,,,\n", `external_id "g1" already appears in row 2`},
	}
	var file strings.Builder
	file.WriteString(importHeader)
	file.WriteString(good("g1")) // row 2
	rowOf := map[string]int64{}
	row := int64(2)
	for i, tc := range tests {
		row++
		rowOf[tc.name] = row
		file.WriteString(tc.line)
		row++
		file.WriteString(good(fmt.Sprintf("g%d", i+2)))
	}
	var rejects bytes.Buffer
	res, err := s.Import(ctx, strings.NewReader(file.String()), crm.ImportOptions{Rejects: &rejects})
	if err != nil {
		t.Fatal(err)
	}
	wantGood := int64(len(tests) + 1)
	if res.Rows != row-1 || res.Inserted != wantGood || res.Rejected != int64(len(tests)) || res.Updated != 0 || res.Bulk == seeded {
		t.Fatalf("result %+v; want %d rows, %d inserted, %d rejected", res, row-1, wantGood, len(tests))
	}
	if n := countCustomers(t, db); n != int(wantGood)+extra {
		t.Fatalf("%d customers stored, want %d", n, int(wantGood)+extra)
	}
	var maxRev int64
	if err := db.Pool.QueryRow(ctx, `SELECT max(rev) FROM customers`).Scan(&maxRev); err != nil || maxRev != res.MaxRev {
		t.Fatalf("max rev %d, result says %d (%v)", maxRev, res.MaxRev, err)
	}
	byRow := map[int64]string{}
	for _, r := range res.Rejects {
		byRow[r.Row] = r.Reason
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			reason, ok := byRow[rowOf[tc.name]]
			if !ok {
				t.Fatalf("row %d not rejected; rejects: %v", rowOf[tc.name], res.Rejects)
			}
			prefix := fmt.Sprintf("row %d: ", rowOf[tc.name])
			if !strings.HasPrefix(reason, prefix) || !strings.Contains(reason, tc.reason) {
				t.Fatalf("reason %q; want %q containing %q", reason, prefix, tc.reason)
			}
		})
	}
	// The rejects CSV: the file's columns, then _row and _reason, one line per reject.
	recs, err := csv.NewReader(bytes.NewReader(rejects.Bytes())).ReadAll()
	if err != nil {
		t.Fatalf("rejects CSV: %v\n%s", err, rejects.String())
	}
	if len(recs) != len(tests)+1 || strings.Join(recs[0][len(recs[0])-2:], ",") != "_row,_reason" {
		t.Fatalf("rejects CSV has %d records (header %v), want %d", len(recs), recs[0], len(tests)+1)
	}
	if recs[1][0] != "n1" || recs[1][18] != fmt.Sprint(rowOf["NoCoordinates"]) {
		t.Fatalf("first reject %v", recs[1])
	}
	// The sequences moved past what the import used: a new record gets a fresh id and rev.
	c2 := &crm.Customer{Name: "After"}
	if err := s.Create(ctx, c2); err != nil || c2.Rev <= res.MaxRev {
		t.Fatalf("create after import: rev %d (import max %d), %v", c2.Rev, res.MaxRev, err)
	}
	// A good row keeps its values, its attributes and a cell computed from its location.
	got, _, err := s.Find(ctx, crm.Filter{Text: "Acme g1"})
	if err != nil || len(got) == 0 || got[0].Name != "Acme g1" {
		t.Fatalf("find: %v, %v", got, err)
	}
	c := got[0]
	if c.Revenue != 1000.5 || !c.ConsentEmail || c.Attributes["tier"] != "gold" || c.Postcode != "78701" ||
		c.Cell != geo.CellOf(orb.Point{-97.74, 30.27}, geo.CellResolution) || c.Geocode.Precision != "given" {
		t.Fatalf("stored %+v", c)
	}
}

// TestImport_Header checks aliases, case and column order, and the headers that make a
// file unusable.
func TestImport_Header(t *testing.T) {
	ctx := context.Background()
	db := pgtest.New(t)
	s := crm.NewStore(db)
	t.Run("Aliases", func(t *testing.T) {
		file := "\ufeff Longitude ,LATITUDE,Company,ZIP,State,Notes\n-97.74,30.27,Acme,78701,TX,call back\n"
		res, err := s.Import(ctx, strings.NewReader(file), crm.ImportOptions{})
		if err != nil || res.Inserted != 1 {
			t.Fatalf("%+v, %v", res, err)
		}
		got, _, _ := s.Find(ctx, crm.Filter{Text: "Acme"})
		if len(got) != 1 || got[0].Postcode != "78701" || got[0].Region != "TX" || got[0].Attributes["Notes"] != "call back" ||
			*got[0].Location != (orb.Point{-97.74, 30.27}) {
			t.Fatalf("stored %+v", got)
		}
	})
	for _, tc := range []struct{ name, file string }{
		{"Empty", ""},
		{"NoName", "external_id,lat,lon\n1,2,3\n"},
		{"LatWithoutLon", "name,lat\nx,1\n"},
		{"Twice", "name,city,City\nx,a,b\n"},
		{"BrokenHeader", "name,\"lat\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.Import(ctx, strings.NewReader(tc.file), crm.ImportOptions{})
			if geo.ErrorCode(err) != geo.EINVALID {
				t.Fatalf("error %v, want EINVALID", err)
			}
		})
	}
}

// TestImport_Upsert re-imports a file: changed rows update their record (version and rev
// move on), unchanged rows are left alone, new rows are inserted, nothing is duplicated.
func TestImport_Upsert(t *testing.T) {
	ctx := context.Background()
	db := pgtest.New(t)
	s := crm.NewStore(db)
	first := "external_id,name,lat,lon,segment,tier\n" +
		"a,Alpha,10,10,smb,gold\n" +
		"b,Beta,11,11,smb,\n" +
		",No id,12,12,,\n"
	res, err := s.Import(ctx, strings.NewReader(first), crm.ImportOptions{})
	if err != nil || res.Inserted != 3 {
		t.Fatalf("%+v, %v", res, err)
	}
	rev1 := res.MaxRev
	second := "external_id,name,lat,lon,tier\n" + // no segment column: segment is kept
		"a,Alpha,10,10,platinum\n" + // attribute changed
		"b,Beta,11,11,\n" + // unchanged
		"c,Gamma,13,13,\n" + // new
		",No id,12,12,\n" // no id: always a new record
	res, err = s.Import(ctx, strings.NewReader(second), crm.ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Inserted != 2 || res.Updated != 1 || res.Unchanged != 1 || res.MaxRev <= rev1 {
		t.Fatalf("second import %+v (first max rev %d)", res, rev1)
	}
	if n := countCustomers(t, db); n != 5 {
		t.Fatalf("%d customers, want 5", n)
	}
	var version int
	var segment, tier string
	var rev int64
	if err := db.Pool.QueryRow(ctx, `SELECT version, segment, attributes->>'tier', rev FROM customers WHERE external_id = 'a'`).Scan(&version, &segment, &tier, &rev); err != nil {
		t.Fatal(err)
	}
	if version != 2 || segment != "smb" || tier != "platinum" || rev <= rev1 {
		t.Fatalf("a: version %d segment %q tier %q rev %d", version, segment, tier, rev)
	}
	if err := db.Pool.QueryRow(ctx, `SELECT version FROM customers WHERE external_id = 'b'`).Scan(&version); err != nil || version != 1 {
		t.Fatalf("b: version %d, %v (unchanged rows keep their version)", version, err)
	}
}

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("disk on fire") }

// TestImport_FailureLeavesTable: an import that fails part-way leaves the table as it was.
func TestImport_FailureLeavesTable(t *testing.T) {
	ctx := context.Background()
	db := pgtest.New(t)
	s := crm.NewStore(db)
	if _, err := s.Import(ctx, strings.NewReader("external_id,name,lat,lon\na,Alpha,1,1\n"), crm.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	var before string
	if err := db.Pool.QueryRow(ctx, `SELECT string_agg(external_id || name || version, ',') FROM customers`).Scan(&before); err != nil {
		t.Fatal(err)
	}
	t.Run("ReadError", func(t *testing.T) {
		var rows strings.Builder
		rows.WriteString("external_id,name,lat,lon\na,Changed,2,2\n")
		for i := 0; i < 5000; i++ {
			fmt.Fprintf(&rows, "x%d,Row %d,1,1\n", i, i)
		}
		_, err := s.Import(ctx, io.MultiReader(strings.NewReader(rows.String()), failingReader{}), crm.ImportOptions{})
		if err == nil {
			t.Fatal("no error")
		}
	})
	t.Run("Cancelled", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		var rows strings.Builder
		rows.WriteString("external_id,name,lat,lon\na,Changed,2,2\n")
		for i := 0; i < 5000; i++ {
			fmt.Fprintf(&rows, "x%d,Row %d,1,1\n", i, i)
		}
		_, err := s.Import(cctx, strings.NewReader(rows.String()), crm.ImportOptions{Progress: func(int64, int64) { cancel() }})
		if geo.ErrorCode(err) != geo.EUNAVAILABLE {
			t.Fatalf("error %v, want EUNAVAILABLE", err)
		}
	})
	var after string
	if err := db.Pool.QueryRow(ctx, `SELECT string_agg(external_id || name || version, ',') FROM customers`).Scan(&after); err != nil {
		t.Fatal(err)
	}
	if after != before {
		t.Fatalf("table changed: %q → %q", before, after)
	}
}

// TestImport_Geocoder: with a Geocoder, rows without coordinates are placed; rows it cannot
// place land without a location and with the geocode error.
func TestImport_Geocoder(t *testing.T) {
	ctx := context.Background()
	db := pgtest.New(t)
	s := crm.NewStore(db)
	gc := crm.GeocoderFunc(func(ctx context.Context, a crm.Address) (orb.Point, crm.Geocode, error) {
		if a.City == "Austin" {
			return orb.Point{-97.74, 30.27}, crm.Geocode{Precision: "city", Confidence: 0.5, Source: "test"}, nil
		}
		return orb.Point{}, crm.Geocode{}, geo.Errorf(geo.ENOTFOUND, "no place called %q", a.City)
	})
	file := "name,city,lat,lon\nA,Austin,,\nB,Atlantis,,\nC,Paris,48.85,2.35\n"
	res, err := s.Import(ctx, strings.NewReader(file), crm.ImportOptions{Geocoder: gc})
	if err != nil || res.Inserted != 3 || res.Rejected != 0 {
		t.Fatalf("%+v, %v", res, err)
	}
	list, _, err := s.Find(ctx, crm.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]*crm.Customer{}
	for _, c := range list {
		byName[c.Name] = c
	}
	if a := byName["A"]; a.Location == nil || a.Geocode.Precision != "city" {
		t.Errorf("A: %+v", a)
	}
	if b := byName["B"]; b.Location != nil || b.Geocode.Error != `no place called "Atlantis"` {
		t.Errorf("B: %+v", b)
	}
	if c := byName["C"]; c.Location == nil || c.Geocode.Precision != "given" {
		t.Errorf("C: %+v", c)
	}
}

// geonamesCSV turns the shared GeoNames US places into an import file of n rows (cycling
// through the places, each row with its own external_id).
func geonamesCSV(t testing.TB, n int) string {
	t.Helper()
	f, err := os.Open("../../shared/data/places/us/geonames_cities1000_US.csv")
	if err != nil {
		t.Fatalf("shared data: %v", err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	recs = recs[1:] // cityId,name,country,adminCode,featureCode,population,lat,lon
	var b strings.Builder
	b.WriteString("external_id,name,kind,lat,lon,region,country,population\n")
	kinds := []string{"customer", "prospect", "lead"}
	for i := 0; i < n; i++ {
		r := recs[i%len(recs)]
		fmt.Fprintf(&b, "%s-%d,\"%s\",%s,%s,%s,%s,%s,%s\n", r[0], i, strings.ReplaceAll(r[1], `"`, `""`), kinds[i%3], r[6], r[7], r[3], r[2], r[5])
	}
	return b.String()
}

// TestImport_Bulk: a large import into an empty table rebuilds the indexes after the load
// and leaves the schema exactly as it was.
func TestImport_Bulk(t *testing.T) {
	ctx := context.Background()
	db := pgtest.New(t)
	s := crm.NewStore(db)
	indexes := func() string {
		var defs string
		if err := db.Pool.QueryRow(ctx, `SELECT string_agg(indexdef, E'\n' ORDER BY indexname) FROM pg_indexes WHERE tablename = 'customers'`).Scan(&defs); err != nil {
			t.Fatal(err)
		}
		return defs
	}
	before := indexes()
	file := geonamesCSV(t, 60_000)
	res, err := s.Import(ctx, strings.NewReader(file), crm.ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Bulk || res.Inserted != 60_000 || res.Rejected != 0 {
		t.Fatalf("%+v", res)
	}
	if after := indexes(); after != before {
		t.Fatalf("indexes changed:\n%s\n→\n%s", before, after)
	}
	// The unique external_id is back: importing again updates nothing and inserts nothing.
	res, err = s.Import(ctx, strings.NewReader(file), crm.ImportOptions{})
	if err != nil || res.Bulk || res.Inserted != 0 || res.Unchanged != 60_000 {
		t.Fatalf("re-import %+v, %v", res, err)
	}
}

// TestImport_BulkLastRowRepeat: when a bulk load's last row repeats an earlier external_id,
// MaxRev is the rev of the last row kept.
func TestImport_BulkLastRowRepeat(t *testing.T) {
	ctx := context.Background()
	db := pgtest.New(t)
	s := crm.NewStore(db)
	file := "external_id,name,lat,lon\na,A,1,1\nb,B,2,2\nc,C,3,3\na,A again,4,4\n"
	res, err := s.Import(ctx, strings.NewReader(file), crm.ImportOptions{})
	if err != nil || !res.Bulk || res.Inserted != 3 || res.Rejected != 1 {
		t.Fatalf("%+v, %v", res, err)
	}
	var maxRev int64
	if err := db.Pool.QueryRow(ctx, `SELECT rev FROM customers WHERE external_id = 'c'`).Scan(&maxRev); err != nil || res.MaxRev != maxRev {
		t.Fatalf("MaxRev %d, want the rev of row c, %d (%v)", res.MaxRev, maxRev, err)
	}
}

// TestImport_FeedIndexed: after an import that grew the table tenfold a poll of the change
// feed after one update reads the rows near that update, not the table: the feed's BRIN
// index on (rev, txid) covers every row loaded (a bulk load drops it and builds it again)
// and the planner has the statistics to choose it.
func TestImport_FeedIndexed(t *testing.T) {
	t.Run("Bulk", func(t *testing.T) { testImportFeedIndexed(t, false) })
	t.Run("Upsert", func(t *testing.T) { testImportFeedIndexed(t, true) })
}

func testImportFeedIndexed(t *testing.T, seeded bool) {
	ctx := context.Background()
	db, s := importStore(t, seeded)
	const n = 60_000
	res, err := s.Import(ctx, strings.NewReader(geonamesCSV(t, n)), crm.ImportOptions{})
	if err != nil || res.Bulk == seeded || res.Inserted != n {
		t.Fatalf("%+v, %v", res, err)
	}
	// Every row imported carries the id of the transaction that wrote it (the bulk load
	// leaves it to the column's default), as the feed's snapshots compare it.
	var wrong int64
	if err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM customers WHERE txid % 4294967296 <> xmin::text::bigint`).Scan(&wrong); err != nil || wrong != 0 {
		t.Fatalf("%d rows carry another transaction's id (%v)", wrong, err)
	}
	var since, id int64
	var version int
	if err := db.Pool.QueryRow(ctx, `SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint, id, version
		FROM customers WHERE id = (SELECT min(id) FROM customers) + $1`, n/2).Scan(&since, &id, &version); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Update(ctx, crm.Scope{}, id, version, func(c *crm.Customer) error { c.Status = "won"; return nil }); err != nil {
		t.Fatal(err)
	}
	var changed []int64
	if _, err := s.ScanChanges(ctx, since, func(p *crm.Point) error { changed = append(changed, p.ID); return nil },
		func(crm.Deletion) error { return nil }); err != nil || len(changed) != 1 || changed[0] != id {
		t.Fatalf("changes %v, want [%d] (%v)", changed, id, err)
	}
	if read := pgtest.RowsRead(t, db, "customers", crm.ChangedPointsSQL, since); read > n/20 {
		t.Fatalf("the feed's query read %d of %d rows to find the one updated", read, n)
	}
}

// TestImport_Values: the values sent in COPY's binary format land as the text form of the
// file would have: numeric revenue rounded by the server from the shortest decimal of the
// parsed number, points, cells, attributes, NULL external ids, in both load paths.
func TestImport_Values(t *testing.T) {
	revenues := []string{"0", "-0", "0.005", "-0.005", "0.015", "1.005", "2.675", "1234.565", "-1234.5",
		"9999999999999.99", "12345678.9", "0.00001", "1e-7", "1.5e3", "100000000", "0.1", "10000", "99999.995", "7"}
	for _, seeded := range []bool{false, true} {
		t.Run(fmt.Sprintf("seeded=%v", seeded), func(t *testing.T) {
			ctx := context.Background()
			db := pgtest.New(t)
			s := crm.NewStore(db)
			if seeded {
				if err := s.Create(ctx, &crm.Customer{Name: "Already there"}); err != nil {
					t.Fatal(err)
				}
			}
			var b strings.Builder
			b.WriteString("external_id,name,lat,lon,revenue,owner,tier,note\n")
			for i, r := range revenues {
				id := fmt.Sprintf("V%d", i)
				if i%4 == 3 {
					id = ""
				}
				fmt.Fprintf(&b, "%s,\"Name \"\"%d\"\" é\t\\\",%.7f,%.7f,%s,o%d,\"gold \"\"x\"\" \\\",%s\n", id, i,
					-89.9+float64(i)*9.3, 179.99-float64(i)*18.7, r, i, strings.Repeat("ü", i))
			}
			res, err := s.Import(ctx, strings.NewReader(b.String()), crm.ImportOptions{})
			if err != nil || res.Inserted != int64(len(revenues)) || res.Bulk == seeded {
				t.Fatalf("%+v %v", res, err)
			}
			for i, r := range revenues {
				v, err := strconv.ParseFloat(r, 64)
				if err != nil {
					t.Fatal(err)
				}
				lat, lon := -89.9+float64(i)*9.3, 179.99-float64(i)*18.7
				lat, _ = strconv.ParseFloat(fmt.Sprintf("%.7f", lat), 64)
				lon, _ = strconv.ParseFloat(fmt.Sprintf("%.7f", lon), 64)
				var ok, nullID bool
				var h3 int64
				var attrs map[string]any
				var conf float32
				if err := db.Pool.QueryRow(ctx, `SELECT revenue = $1::numeric(16,2) AND geom = ST_SetSRID(ST_MakePoint($2, $3), 4326)
						AND ST_SRID(geom) = 4326 AND owner = $5, external_id IS NULL, h3, attributes, geocode_confidence
					FROM customers WHERE name = $4`,
					strconv.FormatFloat(v, 'f', -1, 64), lon, lat, fmt.Sprintf("Name \"%d\" é\t\\", i), fmt.Sprintf("o%d", i)).
					Scan(&ok, &nullID, &h3, &attrs, &conf); err != nil {
					t.Fatalf("row %d: %v", i, err)
				}
				wantAttrs := map[string]any{"tier": `gold "x" \`}
				if i > 0 {
					wantAttrs["note"] = strings.Repeat("ü", i)
				}
				if !ok || nullID != (i%4 == 3) || h3 != int64(geo.CellOf(orb.Point{lon, lat}, geo.CellResolution)) ||
					!reflect.DeepEqual(attrs, wantAttrs) || conf != 1 {
					t.Fatalf("row %d (revenue %s): equal %v, null id %v, h3 %x, attributes %v, confidence %v", i, r, ok, nullID, h3, attrs, conf)
				}
			}
		})
	}
}

// TestImport_GeocodeOfFile: rows placed by the file get precision given, confidence 1 and
// the source option, in both load paths (the bulk load leaves them to column defaults it
// sets for the load), and the columns' own defaults are back afterwards.
func TestImport_GeocodeOfFile(t *testing.T) {
	for _, seeded := range []bool{false, true} {
		t.Run(fmt.Sprintf("seeded=%v", seeded), func(t *testing.T) {
			ctx := context.Background()
			db, s := importStore(t, seeded)
			const source = `it's a "survey" \ 2026`
			res, err := s.Import(ctx, strings.NewReader("name,lat,lon\nA,30.27,-97.74\nB,40.7,-74\n"), crm.ImportOptions{Source: source})
			if err != nil || res.Bulk == seeded || res.Inserted != 2 {
				t.Fatalf("%+v, %v", res, err)
			}
			var wrong int64
			if err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM customers WHERE name IN ('A', 'B') AND (geocode_precision,
				geocode_confidence, geocode_source, geocode_error) IS DISTINCT FROM ('given', 1, $1, '')`, source).Scan(&wrong); err != nil || wrong != 0 {
				t.Fatalf("%d rows with another geocode (%v)", wrong, err)
			}
			var prec, src, gerr string
			var conf float32
			if err := db.Pool.QueryRow(ctx, `INSERT INTO customers (kind, name) VALUES ('lead', 'defaults')
				RETURNING geocode_precision, geocode_confidence, geocode_source, geocode_error`).Scan(&prec, &conf, &src, &gerr); err != nil ||
				prec != "" || conf != 0 || src != "" || gerr != "" {
				t.Fatalf("after the import the defaults are %q, %v, %q, %q (%v)", prec, conf, src, gerr, err)
			}
		})
	}
}
