package crm_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gcrm/gcrm/crm"
	"github.com/gcrm/gcrm/geo/postgis"
	"github.com/gcrm/gcrm/geo/postgis/pgtest"
)

// createdAtOf returns the created_at of every stored record, by external_id.
func createdAtOf(t *testing.T, db *postgis.DB) map[string]time.Time {
	t.Helper()
	rows, err := db.Pool.Query(context.Background(), `SELECT external_id, created_at FROM customers WHERE external_id IS NOT NULL`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	got := map[string]time.Time{}
	for rows.Next() {
		var id string
		var at time.Time
		if err := rows.Scan(&id, &at); err != nil {
			t.Fatal(err)
		}
		got[id] = at
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return got
}

// TestImport_CreatedAt: a created_at column sets the records' creation dates from dates
// (midnight UTC) and RFC 3339 timestamps, blank is the time of the import, and a value that
// is no date or lies in the future or before 1900 rejects its row while the others land — into an empty
// table by swap and in place, and through the staging table.
func TestImport_CreatedAt(t *testing.T) {
	tests := []struct {
		name   string
		setup  string // SQL run first
		seeded bool   // a record already there: the staging path
		bulk   bool
	}{
		{name: "BulkSwap", bulk: true},
		{name: "BulkInPlace", setup: `CREATE VIEW customer_names AS SELECT id, name FROM customers`, bulk: true},
		{name: "Staging", seeded: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			db, s := importStore(t, tc.seeded)
			if tc.setup != "" {
				if _, err := db.Pool.Exec(ctx, tc.setup); err != nil {
					t.Fatal(err)
				}
			}
			midnight := time.Now().UTC().Truncate(24 * time.Hour)
			today := midnight.Format(time.DateOnly)
			future := time.Now().UTC().AddDate(0, 0, 3).Format(time.DateOnly)
			file := "external_id,name,lat,lon,created_at\n" +
				"a,A,10,10,2024-03-15\n" + // row 2
				"b,B,10,10,2024-03-15T10:20:00+02:00\n" + // row 3
				"c,C,10,10,\n" + // row 4: blank, now
				"d,D,10,10,15/03/2024\n" + // row 5: not a date
				"e,E,10,10," + future + "\n" + // row 6: in the future
				"f,F,10,10," + today + "\n" + // row 7: today is fine
				"a,Again,10,10,2020-01-01\n" + // row 8: a repeat, rejected by the SQL dedupe
				"g,G,10,10,2019-12-31T23:59:59.5Z\n" + // row 9
				"h,H,10,10,0202-05-01\n" // row 10: before 1900 (a typo of the year)
			before := time.Now()
			res, err := s.Import(ctx, strings.NewReader(file), crm.ImportOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if res.Bulk != tc.bulk || res.Inserted != 5 || res.Rejected != 4 {
				t.Fatalf("result %+v; want 5 inserted, 4 rejected, bulk %v", res, tc.bulk)
			}
			wantRejects := map[int64]string{
				5:  `row 5: created_at "15/03/2024" is not a date (write it like 2024-03-15`,
				6:  fmt.Sprintf(`row 6: created_at %q is in the future`, future),
				8:  `row 8: external_id "a" already appears in row 2`,
				10: `row 10: created_at "0202-05-01" is before 1900; check the year`,
			}
			for _, r := range res.Rejects {
				if want, ok := wantRejects[r.Row]; !ok || !strings.HasPrefix(r.Reason, want) {
					t.Errorf("reject %+v; want %q", r, want)
				}
			}
			got := createdAtOf(t, db)
			for id, want := range map[string]time.Time{
				"a": time.Date(2024, 3, 15, 0, 0, 0, 0, time.UTC),
				"b": time.Date(2024, 3, 15, 8, 20, 0, 0, time.UTC),
				"f": midnight,
				"g": time.Date(2019, 12, 31, 23, 59, 59, 5e8, time.UTC),
			} {
				if !got[id].Equal(want) {
					t.Errorf("%s: created_at %v, want %v", id, got[id], want)
				}
			}
			if c := got["c"]; c.Before(before.Add(-time.Second)) || c.After(time.Now()) {
				t.Errorf("c (blank): created_at %v, want the time of the import (after %v)", c, before)
			}
			if len(got) != 5 {
				t.Errorf("stored %v; want a, b, c, f, g", got)
			}
		})
	}
}

// TestImport_CreatedAtUpdate: a re-import without the column keeps the records' creation
// dates; with it, a date changes the record's and a blank keeps it (the record is then
// unchanged when nothing else differs).
func TestImport_CreatedAtUpdate(t *testing.T) {
	ctx := context.Background()
	db := pgtest.New(t)
	s := crm.NewStore(db)
	jan2 := time.Date(2023, 1, 2, 0, 0, 0, 0, time.UTC)
	jan3 := time.Date(2023, 1, 3, 0, 0, 0, 0, time.UTC)
	if res, err := s.Import(ctx, strings.NewReader("external_id,name,lat,lon,created_at\na,A,10,10,2023-01-02\nb,B,10,10,2023-01-03\n"), crm.ImportOptions{}); err != nil || res.Inserted != 2 {
		t.Fatalf("first import %+v, %v", res, err)
	}
	// No created_at column: the name changes, the creation date stays.
	res, err := s.Import(ctx, strings.NewReader("external_id,name,lat,lon\na,A2,10,10\nb,B,10,10\n"), crm.ImportOptions{})
	if err != nil || res.Updated != 1 || res.Unchanged != 1 {
		t.Fatalf("second import %+v, %v", res, err)
	}
	if got := createdAtOf(t, db); !got["a"].Equal(jan2) || !got["b"].Equal(jan3) {
		t.Fatalf("after an import without created_at: %v", got)
	}
	// The column (by an alias): blank keeps a's, a date changes b's, blank is now for c.
	before := time.Now()
	res, err = s.Import(ctx, strings.NewReader("external_id,name,lat,lon,Date Created\na,A2,10,10,\nb,B,10,10,2022-06-01T12:00:00-05:00\nc,C,10,10,\n"), crm.ImportOptions{})
	if err != nil || res.Inserted != 1 || res.Updated != 1 || res.Unchanged != 1 {
		t.Fatalf("third import %+v, %v", res, err)
	}
	got := createdAtOf(t, db)
	if !got["a"].Equal(jan2) || !got["b"].Equal(time.Date(2022, 6, 1, 17, 0, 0, 0, time.UTC)) {
		t.Fatalf("after an import with created_at: %v", got)
	}
	if c := got["c"]; c.Before(before.Add(-time.Second)) || c.After(time.Now()) {
		t.Fatalf("c (blank, new): created_at %v, want the time of the import", c)
	}
}
