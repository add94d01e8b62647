package crm_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gcrm/gcrm/crm"
	"github.com/gcrm/gcrm/geo"
	"github.com/gcrm/gcrm/geo/postgis"
	"github.com/gcrm/gcrm/geo/postgis/pgtest"
)

// customersSchema describes everything of the customers table a bulk load must keep:
// columns with their defaults, indexes, constraints, triggers, the id sequence's owner,
// grants, storage options, owner and comment.
const customersSchema = `SELECT concat_ws(E'\n',
	(SELECT string_agg(concat_ws(' ', a.attname, format_type(a.atttypid, a.atttypmod), a.attcollation, a.attnotnull,
			pg_get_expr(d.adbin, d.adrelid), col_description(a.attrelid, a.attnum)), ', ' ORDER BY a.attnum)
		FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
		WHERE a.attrelid = 'customers'::regclass AND a.attnum > 0 AND NOT a.attisdropped),
	(SELECT string_agg(indexdef, E'\n' ORDER BY indexname) FROM pg_indexes WHERE tablename = 'customers' AND schemaname = current_schema()),
	(SELECT string_agg(conname || ' ' || pg_get_constraintdef(oid), E'\n' ORDER BY conname) FROM pg_constraint WHERE conrelid = 'customers'::regclass),
	(SELECT string_agg(pg_get_triggerdef(oid), E'\n' ORDER BY tgname) FROM pg_trigger WHERE tgrelid = 'customers'::regclass),
	'sequence ' || pg_get_serial_sequence('customers', 'id'),
	(SELECT concat_ws(' ', relacl, reloptions, pg_get_userbyid(relowner), obj_description(oid, 'pg_class')) FROM pg_class WHERE oid = 'customers'::regclass),
	'left over: ' || to_regclass('customers_import'))`

func schemaOf(t *testing.T, db *postgis.DB) (schema string, oid uint32) {
	t.Helper()
	ctx := context.Background()
	if err := db.Pool.QueryRow(ctx, customersSchema).Scan(&schema); err != nil {
		t.Fatal(err)
	}
	if err := db.Pool.QueryRow(ctx, `SELECT 'customers'::regclass::oid`).Scan(&oid); err != nil {
		t.Fatal(err)
	}
	return schema, oid
}

// TestImport_BulkSwap: a bulk load into an empty table is built beside it and swapped in
// (a new table), with everything of the old one: columns, indexes, constraints, triggers,
// grants, options, comment, the id sequence. Afterwards the table works as before: its
// trigger notified the load and notifies later changes, a second import upserts by
// external_id, and new records take ids and revs after the loaded ones.
func TestImport_BulkSwap(t *testing.T) {
	ctx := context.Background()
	db := pgtest.New(t)
	s := crm.NewStore(db)
	if _, err := db.Pool.Exec(ctx, `GRANT SELECT ON customers TO PUBLIC;
		COMMENT ON TABLE customers IS 'the records';
		ALTER TABLE customers SET (autovacuum_vacuum_scale_factor = 0.05)`); err != nil {
		t.Fatal(err)
	}
	before, oid := schemaOf(t, db)
	l, err := db.Listen(ctx, "gcrm_changes")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	notified := func(what string) {
		t.Helper()
		select {
		case <-l.Notes:
		case err := <-l.Err:
			t.Fatal(err)
		case <-time.After(5 * time.Second):
			t.Fatalf("no notification on gcrm_changes after %s", what)
		}
	}

	const n = 20_000
	file := geonamesCSV(t, n)
	res, err := s.Import(ctx, strings.NewReader(file), crm.ImportOptions{})
	if err != nil || !res.Bulk || res.Inserted != n {
		t.Fatalf("%+v, %v", res, err)
	}
	after, newOID := schemaOf(t, db)
	if newOID == oid {
		t.Fatal("customers is the same table: the load was not swapped in")
	}
	if after != before {
		t.Fatalf("the table changed:\n%s\n→\n%s", before, after)
	}
	notified("the bulk load")

	var maxID int64
	if err := db.Pool.QueryRow(ctx, `SELECT max(id) FROM customers`).Scan(&maxID); err != nil {
		t.Fatal(err)
	}
	c := &crm.Customer{Name: "After the load"}
	if err := s.Create(ctx, c); err != nil {
		t.Fatal(err)
	}
	if c.ID <= maxID || c.Rev <= res.MaxRev {
		t.Fatalf("new record id %d rev %d, want above the loaded %d and %d", c.ID, c.Rev, maxID, res.MaxRev)
	}
	notified("a create")

	// The unique external_id works: the same file again changes nothing, a changed row is
	// updated, and a repeat in one statement would conflict.
	lines := strings.SplitN(file, "\n", 3)
	first := strings.Split(lines[1], ",")
	first[1] = "Renamed"
	res, err = s.Import(ctx, strings.NewReader(lines[0]+"\n"+strings.Join(first, ",")+"\n"+lines[2]), crm.ImportOptions{})
	if err != nil || res.Bulk || res.Inserted != 0 || res.Updated != 1 || res.Unchanged != n-1 {
		t.Fatalf("re-import %+v, %v", res, err)
	}
	notified("the upsert")
	if _, err := db.Pool.Exec(ctx, `INSERT INTO customers (external_id, kind, name) VALUES ($1, 'lead', 'twin')`, first[0]); geo.ErrorCode(postgis.Wrap(err)) != geo.ECONFLICT {
		t.Fatalf("a second %s: %v, want a unique violation", first[0], err)
	}
}

// TestImport_BulkReaders: readers are not held up by a bulk load; they see the empty table
// until it commits and then every row with every index, never anything between.
func TestImport_BulkReaders(t *testing.T) {
	ctx := context.Background()
	db := pgtest.New(t)
	s := crm.NewStore(db)
	before, _ := schemaOf(t, db)
	const n = 30_000
	done := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	var bad []string
	fail := func(s string) { mu.Lock(); bad = append(bad, s); mu.Unlock() }
	var seen [2]int // reads of 0 and of n rows
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-done:
				return
			default:
			}
			var rows int
			var schema string
			err := db.Pool.QueryRow(ctx, `SELECT (SELECT count(*) FROM customers), (`+customersSchema+`)`).Scan(&rows, &schema)
			switch {
			case err != nil:
				fail(err.Error())
			case rows == 0:
				seen[0]++
			case rows == n:
				seen[1]++
			default:
				fail(fmt.Sprintf("%d rows", rows))
			}
			// The staging table's name may show while it is being built; the table itself
			// may not change.
			if i := strings.Index(schema, "\nleft over: "); i >= 0 {
				schema = schema[:i]
			}
			if err == nil && schema != before {
				fail("the table as read:\n" + schema)
			}
		}
	}()
	read := false
	res, err := s.Import(ctx, strings.NewReader(geonamesCSV(t, n)), crm.ImportOptions{Progress: func(_, rows int64) {
		if read || rows == 0 {
			return
		}
		read = true
		// In the middle of the load: a reader gets an answer (empty), not a wait.
		rctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		var count int
		if err := db.Pool.QueryRow(rctx, `SELECT count(*) FROM customers`).Scan(&count); err != nil || count != 0 {
			fail(fmt.Sprintf("a read during the load: %d rows, %v", count, err))
		}
	}})
	close(done)
	wg.Wait()
	if err != nil || !res.Bulk || res.Inserted != n {
		t.Fatalf("%+v, %v", res, err)
	}
	if !read {
		t.Fatal("Progress was not called")
	}
	if len(bad) > 0 {
		t.Fatalf("%d reads waited or saw a half-made table, e.g. %s", len(bad), bad[0])
	}
	if countCustomers(t, db) != n {
		t.Fatal("rows missing")
	}
	t.Logf("reads: %d empty, %d full", seen[0], seen[1])
}

// TestImport_BulkFailure: a bulk load that fails, while reading or while its indexes are
// built, leaves customers as it was (empty, the same table with its indexes, trigger and
// sequence) and nothing of its own behind; the next bulk load works.
func TestImport_BulkFailure(t *testing.T) {
	ctx := context.Background()
	db := pgtest.New(t)
	s := crm.NewStore(db)
	before, oid := schemaOf(t, db)
	const n = 20_000
	file := geonamesCSV(t, n)
	check := func(t *testing.T) {
		t.Helper()
		after, newOID := schemaOf(t, db)
		if after != before || newOID != oid {
			t.Fatalf("the table changed (oid %d → %d):\n%s\n→\n%s", oid, newOID, before, after)
		}
		if c := countCustomers(t, db); c != 0 {
			t.Fatalf("%d customers after a failed import", c)
		}
	}
	t.Run("ReadError", func(t *testing.T) {
		_, err := s.Import(ctx, io.MultiReader(strings.NewReader(file), failingReader{}), crm.ImportOptions{})
		if err == nil {
			t.Fatal("no error")
		}
		check(t)
	})
	t.Run("CancelledBuildingIndexes", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		defer cancel()
		watching := make(chan bool, 1)
		go func() { // cancel the import once an index build on the new table is under way
			for cctx.Err() == nil {
				var building bool
				if err := db.Pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_stat_activity
					WHERE datname = current_database() AND pid <> pg_backend_pid() AND state = 'active' AND query LIKE '%INDEX "customers\_import%')`).Scan(&building); err == nil && building {
					cancel()
					watching <- true
					return
				}
				time.Sleep(time.Millisecond)
			}
			watching <- false
		}()
		_, err := s.Import(cctx, strings.NewReader(file), crm.ImportOptions{})
		cancel()
		if !<-watching {
			t.Fatalf("the import ended (%v) before an index build was seen", err)
		}
		if geo.ErrorCode(err) != geo.EUNAVAILABLE {
			t.Fatalf("error %v, want EUNAVAILABLE", err)
		}
		check(t)
	})
	res, err := s.Import(ctx, strings.NewReader(file), crm.ImportOptions{})
	if err != nil || !res.Bulk || res.Inserted != n {
		t.Fatalf("after the failures: %+v, %v", res, err)
	}
}

// TestImport_BulkInPlace: a customers table the swap cannot carry over whole is loaded in
// place, in the loading transaction, as before: one a view depends on (refused before the
// load starts), and one whose new table would get more grants than it has (default
// privileges; found when the new table stands, before a row is read).
func TestImport_BulkInPlace(t *testing.T) {
	tests := []struct {
		name, setup string
	}{
		{"View", `CREATE VIEW customer_names AS SELECT id, name FROM customers`},
		{"DefaultPrivileges", `ALTER DEFAULT PRIVILEGES GRANT SELECT ON TABLES TO PUBLIC`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			db := pgtest.New(t)
			s := crm.NewStore(db)
			if _, err := db.Pool.Exec(ctx, tc.setup); err != nil {
				t.Fatal(err)
			}
			before, oid := schemaOf(t, db)
			const n = 5_000
			res, err := s.Import(ctx, strings.NewReader(geonamesCSV(t, n)), crm.ImportOptions{})
			if err != nil || !res.Bulk || res.Inserted != n {
				t.Fatalf("%+v, %v", res, err)
			}
			if after, newOID := schemaOf(t, db); after != before || newOID != oid {
				t.Fatalf("the table changed (oid %d → %d):\n%s\n→\n%s", oid, newOID, before, after)
			}
			if c := countCustomers(t, db); c != n {
				t.Fatalf("%d customers, want %d", c, n)
			}
		})
	}
}

// TestImport_BulkFeed: a follower of the change feed that polled while a bulk load was
// building its indexes (its rows committed to the table being built, not yet swapped in)
// gets every loaded row at its next poll.
func TestImport_BulkFeed(t *testing.T) {
	ctx := context.Background()
	db := pgtest.New(t)
	s := crm.NewStore(db)
	// A record created and deleted first leaves the table empty and the sequences with
	// values cached: the load's nextval then gives its transaction no id of its own.
	c := &crm.Customer{Name: "Gone"}
	if err := s.Create(ctx, c); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Delete(ctx, crm.Scope{}, c.ID); err != nil {
		t.Fatal(err)
	}
	const n = 20_000
	polled := make(chan int64, 1)
	watch, stop := context.WithCancel(ctx)
	defer stop()
	go func() {
		for watch.Err() == nil {
			var building bool
			if err := db.Pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_stat_activity
				WHERE datname = current_database() AND pid <> pg_backend_pid() AND state = 'active' AND query LIKE '%INDEX "customers\_import%')`).Scan(&building); err == nil && building {
				var got int
				since, err := s.ScanChanges(ctx, 0, func(*crm.Point) error { got++; return nil }, func(crm.Deletion) error { return nil })
				if err != nil || got != 0 {
					since = -1 - int64(got)
				}
				polled <- since
				return
			}
			time.Sleep(time.Millisecond)
		}
	}()
	res, err := s.Import(ctx, strings.NewReader(geonamesCSV(t, n)), crm.ImportOptions{})
	stop()
	if err != nil || !res.Bulk || res.Inserted != n {
		t.Fatalf("%+v, %v", res, err)
	}
	var since int64
	select {
	case since = <-polled:
	default:
		t.Fatal("no poll while the indexes were built")
	}
	if since < 0 {
		t.Fatalf("the poll during the load failed or saw %d rows", -1-since)
	}
	var got int
	if _, err := s.ScanChanges(ctx, since, func(*crm.Point) error { got++; return nil }, func(crm.Deletion) error { return nil }); err != nil || got != n {
		t.Fatalf("the next poll got %d of %d rows (%v)", got, n, errors.Unwrap(err))
	}
}
