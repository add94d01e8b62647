package olap_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gcrm/gcrm/crm"
	"github.com/gcrm/gcrm/geo"
	"github.com/gcrm/gcrm/geo/postgis"
	"github.com/gcrm/gcrm/geo/postgis/pgtest"
	"github.com/gcrm/gcrm/olap"
	"github.com/jackc/pgx/v5"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/wkb"
)

const countiesFile = "../../shared/data/regions/us/counties-10m.geojson"

// importCounties stores the real us-atlas counties (3,231) as level "county" and returns
// their features. The file has 22 zero-area rings of two or three positions (topology
// quantization artefacts) that ReadRegionFeatures drops, and with them Falls Church, VA
// (51610), whose only ring has no area at this scale: 3,230 remain.
func importCounties(t *testing.T, db *postgis.DB) []olap.RegionFeature {
	t.Helper()
	data, err := os.ReadFile(countiesFile)
	if err != nil {
		t.Fatal(err)
	}
	all, err := olap.ReadRegionFeatures(data, olap.RegionReadOptions{Level: "county"})
	if err != nil {
		t.Fatal(err)
	}
	feats, _ := olap.WithArea(all)
	if _, err := olap.NewRegionStore(db).Import(context.Background(), "county", feats); err != nil {
		t.Fatal(err)
	}
	return feats
}

// copyCustomers stores customers with ids 1..len(pts) at pts.
func copyCustomers(t *testing.T, db *postgis.DB, pts []orb.Point) {
	t.Helper()
	rows := make([][]any, len(pts))
	for i, p := range pts {
		rows[i] = []any{int64(i + 1), "customer", "c", wkb.MustMarshal(p), int64(geo.CellOf(p, geo.CellResolution))}
	}
	ctx := context.Background()
	if _, err := db.Pool.CopyFrom(ctx, pgx.Identifier{"customers"}, []string{"id", "kind", "name", "geom", "h3"}, pgx.CopyFromRows(rows)); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Pool.Exec(ctx, `UPDATE customers SET geom = ST_SetSRID(geom, 4326)`); err != nil {
		t.Fatal(err)
	}
}

// The Go assignment equals PostGIS ST_Contains on real counties for points off the borders,
// and puts every point on a border (a county vertex) in exactly one county that touches it.
func TestAssignAll_EqualsSTContains(t *testing.T) {
	ctx := context.Background()
	db := pgtest.New(t)
	feats := importCounties(t, db)
	rng := rand.New(rand.NewPCG(1, 2))
	var pts []orb.Point
	for len(pts) < 4000 { // uniform over the contiguous US bbox (oceans included)
		pts = append(pts, orb.Point{-125 + 59*rng.Float64(), 24 + 26*rng.Float64()})
	}
	random := len(pts)
	for len(pts) < 4500 { // county vertices: on borders, often shared by 3–4 counties
		f := feats[rng.IntN(len(feats))]
		ring := f.Geometry[0][0]
		pts = append(pts, ring[rng.IntN(len(ring))])
	}
	copyCustomers(t, db, pts)
	idx, err := olap.LoadRegionIndex(ctx, db, "county")
	if err != nil {
		t.Fatal(err)
	}
	if len(idx.Regions) != 3230 {
		t.Fatalf("%d counties indexed, want 3230", len(idx.Regions))
	}
	st, err := olap.AssignAll(ctx, db, idx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Customers != len(pts) || st.Assigned+st.Unassigned != st.Customers {
		t.Fatalf("stats %+v", st)
	}
	got := map[int64]int64{}
	rows, _ := db.Pool.Query(ctx, `SELECT customer_id, region_id FROM customer_regions WHERE level = 'county'`)
	for rows.Next() {
		var c, r int64
		if err := rows.Scan(&c, &r); err != nil {
			t.Fatal(err)
		}
		got[c] = r
	}
	if len(got) != st.Assigned {
		t.Fatalf("%d rows stored, stats say %d", len(got), st.Assigned)
	}
	type truth struct{ contains, touches []int64 }
	want := map[int64]*truth{}
	rows, err = db.Pool.Query(ctx, `SELECT c.id, r.id, ST_Contains(r.geom, c.geom) FROM customers c
		JOIN regions r ON r.level = 'county' AND ST_Intersects(r.geom, c.geom)`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var c, r int64
		var contains bool
		if err := rows.Scan(&c, &r, &contains); err != nil {
			t.Fatal(err)
		}
		w := want[c]
		if w == nil {
			w = &truth{}
			want[c] = w
		}
		w.touches = append(w.touches, r)
		if contains {
			w.contains = append(w.contains, r)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	inRandom, onBorder := 0, 0
	for id := int64(1); id <= int64(len(pts)); id++ {
		w := want[id]
		if w == nil {
			w = &truth{}
		}
		r, ok := got[id]
		if id <= int64(random) {
			switch {
			case len(w.contains) == 1 && (!ok || r != w.contains[0]):
				t.Errorf("point %d %v: Go says %d (%v), ST_Contains %d", id, pts[id-1], r, ok, w.contains[0])
			case len(w.contains) == 0 && len(w.touches) == 0 && ok:
				t.Errorf("point %d %v: Go says %d, PostGIS no county", id, pts[id-1], r)
			case len(w.contains) > 1:
				t.Errorf("point %d: in %d counties per PostGIS", id, len(w.contains))
			}
			if ok {
				inRandom++
			}
			continue
		}
		// A vertex: ST_Contains excludes the boundary; Go picks exactly one touching county
		// unless the vertex is on the coast or the border of the country (then it may be in
		// none, when no county lies east/north of it).
		if ok {
			onBorder++
			found := false
			for _, x := range w.touches {
				found = found || x == r
			}
			if !found {
				t.Errorf("border point %d %v: Go says %d, which does not touch it (touching: %v)", id, pts[id-1], r, w.touches)
			}
		} else if len(w.touches) > 2 {
			t.Errorf("border point %d %v shared by %d counties is in none", id, pts[id-1], len(w.touches))
		}
	}
	t.Logf("%d random points: %d in a county; %d vertices: %d assigned", random, inRandom, len(pts)-random, onBorder)
	if inRandom < random/3 || onBorder < (len(pts)-random)*3/4 {
		t.Errorf("too few assigned: %d of %d random, %d of %d vertices", inRandom, random, onBorder, len(pts)-random)
	}
}

func TestAssigner_AssignCustomer(t *testing.T) {
	ctx := context.Background()
	db := pgtest.New(t)
	importCounties(t, db)
	a, err := olap.NewAssigner(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	travis := orb.Point{-97.74, 30.27} // Austin, Travis County (48453)
	if err := a.AssignCustomer(ctx, db.Pool, 7, &travis); err != nil {
		t.Fatal(err)
	}
	code := func() string {
		var c string
		err := db.Pool.QueryRow(ctx, `SELECT r.code FROM customer_regions cr JOIN regions r ON r.id = cr.region_id
			WHERE cr.customer_id = 7 AND cr.level = 'county'`).Scan(&c)
		if err != nil {
			return err.Error()
		}
		return c
	}
	if c := code(); c != "48453" {
		t.Fatalf("county of Austin = %q, want 48453", c)
	}
	// Moving the customer moves its assignment (Cook County, Chicago).
	chicago := orb.Point{-87.63, 41.88}
	if err := a.AssignCustomer(ctx, db.Pool, 7, &chicago); err != nil {
		t.Fatal(err)
	}
	if c := code(); c != "17031" {
		t.Fatalf("county of Chicago = %q, want 17031", c)
	}
	// Into the sea, then without a location: no county.
	sea := orb.Point{-70, 30}
	if err := a.AssignCustomer(ctx, db.Pool, 7, &sea); err != nil {
		t.Fatal(err)
	}
	if c := code(); c != "no rows in result set" {
		t.Fatalf("at sea: %q", c)
	}
	if err := a.AssignCustomer(ctx, db.Pool, 7, &chicago); err != nil {
		t.Fatal(err)
	}
	if err := a.AssignCustomer(ctx, db.Pool, 7, nil); err != nil {
		t.Fatal(err)
	}
	if c := code(); c != "no rows in result set" {
		t.Fatalf("without location: %q", c)
	}
	if err := a.AssignCustomer(ctx, db.Pool, 7, &chicago); err != nil {
		t.Fatal(err)
	}
	if err := olap.UnassignCustomer(ctx, db.Pool, 7); err != nil {
		t.Fatal(err)
	}
	if c := code(); c != "no rows in result set" {
		t.Fatalf("after delete: %q", c)
	}
	// An unknown level is ENOTFOUND.
	if _, err := olap.LoadRegionIndex(ctx, db, "zip"); geo.ErrorCode(err) != geo.ENOTFOUND {
		t.Fatalf("unknown level: %v", err)
	}
}

func TestAssigner_AssignChanged(t *testing.T) {
	ctx := context.Background()
	db := pgtest.New(t)
	importCounties(t, db)
	a, err := olap.NewAssigner(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	store := crm.NewStore(db)
	var rev0 int64
	if err := db.Pool.QueryRow(ctx, `SELECT coalesce(pg_sequence_last_value('customer_rev'), 0)`).Scan(&rev0); err != nil {
		t.Fatal(err)
	}
	austin := &crm.Customer{Name: "Austin"}
	austin.SetLocation(-97.74, 30.27)
	chicago := &crm.Customer{Name: "Chicago"}
	chicago.SetLocation(-87.63, 41.88)
	for _, c := range []*crm.Customer{austin, chicago} {
		if err := store.Create(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	rev1, n, err := a.AssignChanged(ctx, db, rev0)
	if err != nil || n != 2 || rev1 <= rev0 {
		t.Fatalf("AssignChanged = %d, %d, %v", rev1, n, err)
	}
	codes := func() string {
		rows, _ := db.Pool.Query(ctx, `SELECT r.code FROM customer_regions cr JOIN regions r ON r.id = cr.region_id ORDER BY cr.customer_id, cr.level`)
		list, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		return strings.Join(list, ",")
	}
	if got := codes(); got != "48453,17031" {
		t.Fatalf("assigned %q, want 48453,17031", got)
	}
	// A level imported and assigned by another process (the API's import) while this
	// assigner has not loaded it: its rows stay when this assigner re-assigns a changed
	// customer, and go with a customer deleted or without a location.
	zone := `{"type":"FeatureCollection","features":[{"type":"Feature","properties":{"code":"Z"},
		"geometry":{"type":"Polygon","coordinates":[[[-100,29],[-85,29],[-85,43],[-100,43],[-100,29]]]}}]}`
	feats, err := olap.ReadRegionFeatures([]byte(zone), olap.RegionReadOptions{Level: "zone", CodeProp: "code"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := olap.NewRegionStore(db).Import(ctx, "zone", feats); err != nil {
		t.Fatal(err)
	}
	if _, err := olap.AssignLevel(ctx, db, "zone"); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Update(ctx, crm.Scope{}, chicago.ID, chicago.Version, func(c *crm.Customer) error { return c.SetLocation(-87.64, 41.88) }); err != nil {
		t.Fatal(err)
	}
	rev2, n, err := a.AssignChanged(ctx, db, rev1)
	if err != nil || n != 1 {
		t.Fatalf("after the update: %d, %v", n, err)
	}
	if got := codes(); got != "48453,Z,17031,Z" {
		t.Fatalf("after the update %q, want 48453,Z,17031,Z: the zone's rows were dropped", got)
	}
	chi := orb.Point{-87.64, 41.88}
	if err := a.AssignCustomer(ctx, db.Pool, chicago.ID, &chi); err != nil {
		t.Fatal(err)
	}
	if got := codes(); got != "48453,Z,17031,Z" {
		t.Fatalf("after AssignCustomer %q, want 48453,Z,17031,Z", got)
	}
	// A delete is a change too.
	if _, err := store.Delete(ctx, crm.Scope{}, austin.ID); err != nil {
		t.Fatal(err)
	}
	if _, n, err := a.AssignChanged(ctx, db, rev2); err != nil || n != 1 {
		t.Fatalf("after delete: %d, %v", n, err)
	}
	if got := codes(); got != "17031,Z" {
		t.Fatalf("after delete %q, want 17031,Z", got)
	}
	if err := a.AssignCustomer(ctx, db.Pool, chicago.ID, nil); err != nil {
		t.Fatal(err)
	}
	if got := codes(); got != "" {
		t.Fatalf("without a location %q, want none", got)
	}
}

// TestAssignChanged_AfterBulkLoad: after a bulk import (which builds the BRIN index on
// customers (rev, txid) again), AssignChanged's query for the one record updated since
// reads the rows near it, not the table.
func TestAssignChanged_AfterBulkLoad(t *testing.T) {
	ctx := context.Background()
	db := pgtest.New(t)
	store := crm.NewStore(db)
	const n = 60_000
	var file strings.Builder
	file.WriteString("external_id,name,lat,lon\n")
	for i := range n {
		fmt.Fprintf(&file, "e%d,Customer %d,%.4f,%.4f\n", i, i, 30+float64(i%1000)/100, -97+float64(i/1000)/100)
	}
	if res, err := store.Import(ctx, strings.NewReader(file.String()), crm.ImportOptions{}); err != nil || !res.Bulk {
		t.Fatalf("%+v, %v", res, err)
	}
	var rev0, id int64
	var version int
	if err := db.Pool.QueryRow(ctx, `SELECT coalesce(pg_sequence_last_value('customer_rev'), 0), id, version
		FROM customers WHERE external_id = 'e30000'`).Scan(&rev0, &id, &version); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Update(ctx, crm.Scope{}, id, version, func(c *crm.Customer) error { return c.SetLocation(-87.63, 41.88) }); err != nil {
		t.Fatal(err)
	}
	if read := pgtest.RowsRead(t, db, "customers", olap.AssignChangedSQL, rev0); read > n/20 {
		t.Fatalf("AssignChanged's query read %d of %d rows to find the one updated", read, n)
	}
	a, err := olap.NewAssigner(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	if rev, changed, err := a.AssignChanged(ctx, db, rev0); err != nil || changed != 1 || rev <= rev0 {
		t.Fatalf("AssignChanged = %d, %d, %v", rev, changed, err)
	}
}

// waitForCounty waits up to 30 s until the follower has put customer id in county want
// ("" for none).
func waitForCounty(t *testing.T, db *postgis.DB, id int64, want string) {
	t.Helper()
	countyOf := func() string {
		var c string
		_ = db.Pool.QueryRow(context.Background(), `SELECT r.code FROM customer_regions cr JOIN regions r ON r.id = cr.region_id
			WHERE cr.customer_id = $1 AND cr.level = 'county'`, id).Scan(&c)
		return c
	}
	for deadline := time.Now().Add(30 * time.Second); countyOf() != want; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("customer %d: county %q, want %q", id, countyOf(), want)
		}
	}
}

// createAt creates a customer named name at (lon, lat).
func createAt(t *testing.T, store *crm.Store, name string, lon, lat float64) *crm.Customer {
	t.Helper()
	c := &crm.Customer{Name: name}
	c.SetLocation(lon, lat)
	if err := store.Create(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	return c
}

// countyAssignedAt returns when the county level was last assigned in bulk.
func countyAssignedAt(t *testing.T, db *postgis.DB) time.Time {
	t.Helper()
	var at time.Time
	if err := db.Pool.QueryRow(context.Background(), `SELECT updated_at FROM region_assignment_state WHERE level = 'county'`).Scan(&at); err != nil {
		t.Fatal(err)
	}
	return at
}

// follow runs FollowAssignments on db until the returned stop is called.
func follow(db *postgis.DB) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { olap.FollowAssignments(ctx, db, nil); close(done) }()
	return func() { cancel(); <-done }
}

func TestFollowAssignments(t *testing.T) {
	ctx := context.Background()
	db := pgtest.New(t)
	store := crm.NewStore(db)
	before := createAt(t, store, "Austin", -97.74, 30.27) // written before regions and follower exist
	importCounties(t, db)
	defer follow(db)()
	waitFor := func(id int64, want string) { t.Helper(); waitForCounty(t, db, id, want) }
	waitFor(before.ID, "48453") // the bulk pass at start
	c := createAt(t, store, "Chicago", -87.63, 41.88)
	waitFor(c.ID, "17031") // a new write
	if _, err := store.Update(ctx, crm.Scope{}, c.ID, c.Version, func(x *crm.Customer) error { return x.SetLocation(-118.24, 34.05) }); err != nil {
		t.Fatal(err)
	}
	waitFor(c.ID, "06037") // moved to Los Angeles
	if _, err := store.Delete(ctx, crm.Scope{}, c.ID); err != nil {
		t.Fatal(err)
	}
	waitFor(c.ID, "") // deleted
}

// A restarted follower resumes from region_assignment_state: no bulk pass when the regions
// did not change, and a write made while no follower ran is still assigned.
func TestFollowAssignments_Resume(t *testing.T) {
	db := pgtest.New(t)
	importCounties(t, db)
	store := crm.NewStore(db)
	bg := context.Background()
	waitFor := func(id int64, want string) { t.Helper(); waitForCounty(t, db, id, want) }
	a := createAt(t, store, "Austin", -97.74, 30.27)
	stop := follow(db)
	waitFor(a.ID, "48453")
	// The bulk pass assigns Austin before the follower stores its feed position (its first
	// read of the feed): stopping in between would leave none to resume from.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		var n int
		if err := db.Pool.QueryRow(bg, `SELECT count(*) FROM region_assignment_state WHERE level = ''`).Scan(&n); err != nil || n > 0 || time.Now().After(deadline) {
			break
		}
	}
	stop()
	var feed, countyFeed int64
	var stateAt time.Time
	if err := db.Pool.QueryRow(bg, `SELECT (SELECT feed_xmin FROM region_assignment_state WHERE level = ''),
		(SELECT updated_at FROM region_assignment_state WHERE level = 'county'), (SELECT feed_xmin FROM region_assignment_state WHERE level = 'county')`).Scan(&feed, &stateAt, &countyFeed); err != nil || feed == 0 || countyFeed == 0 {
		t.Fatalf("state: feed %d, county's %d (AssignAll's, from before its read), %v", feed, countyFeed, err)
	}
	c := createAt(t, store, "Chicago", -87.63, 41.88) // written while no follower runs
	stop = follow(db)
	defer stop()
	waitFor(c.ID, "17031")
	if after := countyAssignedAt(t, db); !after.Equal(stateAt) {
		t.Fatalf("county level re-assigned in bulk on restart (%v → %v)", stateAt, after)
	}
}

// A customer that moves while an import's AssignLevel runs (after its read, before its
// commit), and whose move the follower assigns before it has loaded the new regions, is
// re-assigned once the follower loads them: the level's stored position (feed_xmin, from
// before AssignLevel's read) tells it which writes to redo, though it runs no bulk pass.
func TestFollowAssignments_CatchUp(t *testing.T) {
	db := pgtest.New(t)
	importCounties(t, db)
	store := crm.NewStore(db)
	ctx := context.Background()
	c := createAt(t, store, "Chicago", -87.63, 41.88)
	defer follow(db)()
	waitFor := func(id int64, want string) { t.Helper(); waitForCounty(t, db, id, want) }
	waitFor(c.ID, "17031")
	// AssignLevel of new county boundaries reads the customers here...
	var read int64
	if err := db.Pool.QueryRow(ctx, `SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint`).Scan(&read); err != nil {
		t.Fatal(err)
	}
	// ... Chicago moves to Los Angeles, and the follower, with the old boundaries, assigns it ...
	if _, err := store.Update(ctx, crm.Scope{}, c.ID, c.Version, func(x *crm.Customer) error { return x.SetLocation(-118.24, 34.05) }); err != nil {
		t.Fatal(err)
	}
	waitFor(c.ID, "06037")
	// ... and AssignLevel commits what it read: the new boundaries' version, the customer
	// in Cook County, its feed position from before the read.
	err := db.WithTx(ctx, func(tx pgx.Tx) error {
		for _, q := range []struct {
			sql  string
			args []any
		}{
			{`UPDATE regions SET geom_rev = nextval('region_rev') WHERE id = (SELECT min(id) FROM regions WHERE level = 'county')`, nil},
			{`UPDATE customer_regions SET region_id = (SELECT id FROM regions WHERE level = 'county' AND code = '17031')
				WHERE customer_id = $1 AND level = 'county'`, []any{c.ID}},
			{`UPDATE region_assignment_state s SET regions_rev = v.rev, regions_count = v.count, feed_xmin = $1
				FROM (SELECT max(geom_rev) AS rev, count(*) AS count FROM regions WHERE level = 'county') v WHERE s.level = 'county'`, []any{read}},
			{`SELECT pg_notify('gcrm_changes', '')`, nil},
		} {
			if _, err := tx.Exec(ctx, q.sql, q.args...); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(c.ID, "06037") // re-assigned from the new boundaries
	var levelFeed int64
	if err := db.Pool.QueryRow(ctx, `SELECT feed_xmin FROM region_assignment_state WHERE level = 'county'`).Scan(&levelFeed); err != nil || levelFeed <= read {
		t.Fatalf("the county level's feed position %d did not move past AssignLevel's read %d (%v)", levelFeed, read, err)
	}
}

// A first start after AssignLevel (gcrm import regions, the demo) runs no bulk pass of
// that level: the writes since AssignLevel's read are caught up from its position.
func TestFollowAssignments_FirstStartAfterAssignLevel(t *testing.T) {
	db := pgtest.New(t)
	importCounties(t, db)
	store := crm.NewStore(db)
	ctx := context.Background()
	a := createAt(t, store, "Austin", -97.74, 30.27)
	if _, err := olap.AssignLevel(ctx, db, "county"); err != nil {
		t.Fatal(err)
	}
	assignedAt := countyAssignedAt(t, db)
	c := createAt(t, store, "Chicago", -87.63, 41.88) // written after AssignLevel, before any follower
	defer follow(db)()
	waitForCounty(t, db, c.ID, "17031")
	waitForCounty(t, db, a.ID, "48453")
	if after := countyAssignedAt(t, db); !after.Equal(assignedAt) {
		t.Fatalf("county level re-assigned in bulk on the first start (%v → %v)", assignedAt, after)
	}
}
