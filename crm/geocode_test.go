package crm_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gcrm/gcrm/crm"
	"github.com/gcrm/gcrm/geo"
	"github.com/gcrm/gcrm/geo/geocode"
	"github.com/gcrm/gcrm/geo/postgis/pgtest"
	"github.com/paulmach/orb"
)

func andorraAddresses(t *testing.T) []geocode.Address {
	t.Helper()
	p, err := filepath.Abs("../../shared/data/osm/andorra.osm.pbf")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("test data missing: %v", err)
	}
	addrs, err := geocode.ReadOSMAddresses(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	return addrs
}

func TestAddressStore_OK(t *testing.T) {
	ctx := context.Background()
	s := crm.NewAddressStore(pgtest.New(t))
	addrs := andorraAddresses(t)
	for i := 0; i < 2; i++ { // importing the same extract twice replaces it
		n, err := s.ReplaceAddresses(ctx, "andorra.osm.pbf", addrs)
		if err != nil || n != int64(len(addrs)) {
			t.Fatalf("ReplaceAddresses = %d, %v; want %d", n, err, len(addrs))
		}
	}
	if n, err := s.CountAddresses(ctx); err != nil || n != int64(len(addrs)) {
		t.Fatalf("CountAddresses = %d, %v; want %d", n, err, len(addrs))
	}
	for _, a := range addrs {
		r, err := s.Geocode(ctx, geocode.Query{Text: a.HouseNumber + " " + a.Street + ", " + a.City})
		if err != nil {
			t.Fatalf("%s %s: %v", a.Street, a.HouseNumber, err)
		}
		if r.Point != a.Point || r.Precision != geocode.PrecisionRooftop || r.Source != "osm" {
			t.Errorf("%s %s: got %+v, want %v rooftop", a.Street, a.HouseNumber, r, a.Point)
		}
	}
	r, err := s.Geocode(ctx, geocode.Query{Street: addrs[0].Street, HouseNumber: "9999"})
	if err != nil || r.Precision != geocode.PrecisionStreet {
		t.Errorf("unknown number: %+v, %v; want street precision", r, err)
	}
}

func TestAddressStore_ErrNotFound(t *testing.T) {
	s := crm.NewAddressStore(pgtest.New(t))
	for _, q := range []geocode.Query{{Street: "Carrer Inexistent", HouseNumber: "1"}, {City: "Andorra la Vella"}} {
		if _, err := s.Geocode(context.Background(), q); geo.ErrorCode(err) != geo.ENOTFOUND {
			t.Errorf("Geocode(%+v) = %v, want ENOTFOUND", q, err)
		}
	}
	if _, err := s.Geocode(context.Background(), geocode.Query{}); geo.ErrorCode(err) != geo.EINVALID {
		t.Errorf("empty: %v, want EINVALID", err)
	}
}

// A followed store sees addresses another store (another process) imports, through
// NOTIFY: while the table is empty it answers without a query, and it is the notification
// alone that makes it look again.
func TestAddressStore_Follow(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	db := pgtest.New(t)
	s := crm.NewAddressStore(db)
	go s.Follow(ctx, slog.New(slog.NewTextHandler(io.Discard, nil)))
	a := andorraAddresses(t)[0]
	q := geocode.Query{HouseNumber: a.HouseNumber, Street: a.Street}
	waitFor := func(what string, ok func(geocode.Result, error) bool) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			r, err := s.Geocode(ctx, q)
			if ok(r, err) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: still %+v, %v", what, r, err)
			}
		}
	}
	waitFor("empty table", func(_ geocode.Result, err error) bool {
		return geo.ErrorCode(err) == geo.ENOTFOUND && strings.Contains(geo.ErrorMessage(err), "gcrm import addresses")
	})
	if _, err := crm.NewAddressStore(db).ReplaceAddresses(ctx, "andorra.osm.pbf", []geocode.Address{a}); err != nil {
		t.Fatal(err)
	}
	waitFor("after the import", func(r geocode.Result, err error) bool { return err == nil && r.Point == a.Point })
	if _, err := crm.NewAddressStore(db).ReplaceAddresses(ctx, "andorra.osm.pbf", nil); err != nil {
		t.Fatal(err)
	}
	waitFor("after emptying", func(_ geocode.Result, err error) bool {
		return geo.ErrorCode(err) == geo.ENOTFOUND && strings.Contains(geo.ErrorMessage(err), "no OSM addresses")
	})
}

// counting is a provider that counts the questions it is asked.
type counting struct {
	calls int
	next  geocode.Geocoder
}

func (c *counting) Name() string { return "counting" }
func (c *counting) Geocode(ctx context.Context, q geocode.Query) (geocode.Result, error) {
	c.calls++
	return c.next.Geocode(ctx, q)
}

func TestGeocodeCache(t *testing.T) {
	ctx := context.Background()
	db := pgtest.New(t)
	g := geocode.NewGazetteer("US")
	g.AddPostcode(geocode.Postcode{Code: "62701", Country: "US", Point: orb.Point{-89.65, 39.8}})
	inner := &counting{next: g}
	c := &crm.GeocodeCache{DB: db, Next: inner}
	// The same address written three ways is asked once.
	for _, q := range []geocode.Query{{Text: "1 Main Street, Springfield, IL 62701"}, {Text: "1 main st., springfield, illinois 62701-0001"},
		{HouseNumber: "1", Street: "Main St", City: "Springfield", Region: "IL", Postcode: "62701"}} {
		r, err := c.Geocode(ctx, q)
		if err != nil || r.Point != (orb.Point{-89.65, 39.8}) || r.Precision != geocode.PrecisionPostcode {
			t.Fatalf("%+v: %+v, %v", q, r, err)
		}
	}
	if inner.calls != 1 {
		t.Errorf("provider asked %d times, want 1", inner.calls)
	}
	// Not found is cached too, with its reason.
	for i := 0; i < 2; i++ {
		_, err := c.Geocode(ctx, geocode.Query{Postcode: "99999"})
		if geo.ErrorCode(err) != geo.ENOTFOUND || !strings.Contains(geo.ErrorMessage(err), "99999") {
			t.Fatalf("not found: %v", err)
		}
	}
	if inner.calls != 2 {
		t.Errorf("provider asked %d times, want 2", inner.calls)
	}
	// New addresses clear the cached "not found" answers.
	if _, err := crm.NewAddressStore(db).ReplaceAddresses(ctx, "x", nil); err != nil {
		t.Fatal(err)
	}
	_, _ = c.Geocode(ctx, geocode.Query{Postcode: "99999"})
	if inner.calls != 3 {
		t.Errorf("provider asked %d times after new addresses, want 3", inner.calls)
	}
}

// Rows without coordinates are placed during import through the adapter; rows that cannot
// be placed land without a location and with their reason.
func TestImport_Geocode(t *testing.T) {
	ctx := context.Background()
	db := pgtest.New(t)
	g := geocode.NewGazetteer("US")
	g.AddPostcode(geocode.Postcode{Code: "62701", Country: "US", Point: orb.Point{-89.65, 39.8}})
	g.AddPlace(geocode.Place{Name: "Chicago", Country: "US", Admin1: "IL", Population: 2700000, Point: orb.Point{-87.65, 41.85}})
	csv := "external_id,name,street,city,state,zip\n" +
		"a,Acme,1 Main St,Springfield,IL,62701\n" +
		"b,Bolt,,Chicago,Illinois,\n" +
		"c,Nowhere Inc,,Xyzzyville,ZZ,\n"
	store := crm.NewStore(db)
	res, err := store.Import(ctx, bytes.NewBufferString(csv), crm.ImportOptions{Geocoder: crm.ImportGeocoder(g)})
	if err != nil {
		t.Fatal(err)
	}
	if res.Rows != 3 || res.Inserted != 3 {
		t.Fatalf("import: %+v, want 3 rows inserted (ungeocoded rows are kept)", res)
	}
	list, _, err := store.Find(ctx, crm.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]*crm.Customer{}
	for _, c := range list {
		byID[c.ExternalID] = c
	}
	if c := byID["a"]; c.Location == nil || c.Geocode.Precision != geocode.PrecisionPostcode || c.Geocode.Source != "gazetteer" {
		t.Errorf("a: %+v %+v", c.Location, c.Geocode)
	}
	if c := byID["b"]; c.Location == nil || c.Geocode.Precision != geocode.PrecisionCity {
		t.Errorf("b: %+v %+v", c.Location, c.Geocode)
	}
	if c := byID["c"]; c.Location != nil || !strings.Contains(c.Geocode.Error, "Xyzzyville") {
		t.Errorf("c: %+v %+v, want no location and the reason", c.Location, c.Geocode)
	}
}

func TestReverseGeocode(t *testing.T) {
	ctx := context.Background()
	db := pgtest.New(t)
	s := crm.NewAddressStore(db)
	addrs := andorraAddresses(t)
	if _, err := s.ReplaceAddresses(ctx, "andorra.osm.pbf", addrs); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Pool.Exec(ctx, `INSERT INTO regions (level, code, name, geom) VALUES
		('country', 'AD', 'Andorra', ST_Multi(ST_MakeEnvelope(1.40, 42.42, 1.79, 42.66, 4326))),
		('county', 'X', 'Elsewhere', ST_Multi(ST_MakeEnvelope(2, 42, 3, 43, 4326)))`); err != nil {
		t.Fatal(err)
	}
	g := geocode.NewGazetteer("")
	g.AddPlace(geocode.Place{Name: "Andorra la Vella", Country: "AD", Population: 20430, Point: orb.Point{1.52109, 42.50779}})
	g.AddPlace(geocode.Place{Name: "Perpignan", Country: "FR", Population: 120000, Point: orb.Point{2.89541, 42.69764}})
	p := orb.Point{addrs[0].Point[0] + 0.0001, addrs[0].Point[1]}
	r, err := s.ReverseGeocode(ctx, g, p)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Regions) != 1 || r.Regions[0].Code != "AD" {
		t.Errorf("regions %+v, want Andorra only", r.Regions)
	}
	if r.Place == nil || r.Place.Name != "Andorra la Vella" || r.Address == nil || r.AddressMeters > 20 {
		t.Errorf("place %+v, address %+v at %.0f m", r.Place, r.Address, r.AddressMeters)
	}
	// Without ZIP polygons the ZIP area is the nearest centroid, said so with its distance;
	// a zip region containing the point wins over it.
	g = geocode.NewGazetteer("") // the gazetteer indexes for reverse at its first use
	g.AddPostcode(geocode.Postcode{Code: "AD500", Country: "AD", Point: orb.Point{1.5211, 42.5078}})
	r, err = s.ReverseGeocode(ctx, g, p)
	if err != nil || r.Postcode == nil || r.Postcode.Code != "AD500" || r.PostcodeBasis != crm.PostcodeNearestCentroid || r.PostcodeMeters < 100 {
		t.Errorf("nearest centroid: %+v %q %.0f m, %v", r.Postcode, r.PostcodeBasis, r.PostcodeMeters, err)
	}
	if _, err := db.Pool.Exec(ctx, `INSERT INTO regions (level, code, name, geom) VALUES
		('zip', 'AD700', 'Escaldes-Engordany', ST_Multi(ST_MakeEnvelope(1.52, 42.49, 1.56, 42.52, 4326)))`); err != nil {
		t.Fatal(err)
	}
	r, err = s.ReverseGeocode(ctx, g, p)
	if err != nil || r.Postcode == nil || r.Postcode.Code != "AD700" || r.PostcodeBasis != crm.PostcodePolygon || r.PostcodeMeters != 0 {
		t.Errorf("zip polygon: %+v %q %.0f m, %v", r.Postcode, r.PostcodeBasis, r.PostcodeMeters, err)
	}
	if _, err := s.ReverseGeocode(ctx, g, orb.Point{200, 0}); geo.ErrorCode(err) != geo.EINVALID {
		t.Errorf("outside the world: %v", err)
	}
}

func TestGeocodeReview(t *testing.T) {
	ctx := context.Background()
	store := crm.NewStore(pgtest.New(t))
	mk := func(name string, loc *orb.Point, g crm.Geocode) *crm.Customer {
		c := &crm.Customer{Name: name, Geocode: g}
		if loc != nil {
			if err := c.SetLocation(loc[0], loc[1]); err != nil {
				t.Fatal(err)
			}
		}
		if err := store.Create(ctx, c); err != nil {
			t.Fatal(err)
		}
		return c
	}
	p := &orb.Point{-87.6, 41.8}
	mk("good", p, crm.Geocode{Precision: "postcode", Confidence: 0.9, Source: "gazetteer"})
	low := mk("low", p, crm.Geocode{Precision: "city", Confidence: 0.3, Source: "gazetteer"})
	mk("given", p, crm.Geocode{Precision: "given", Confidence: 0})
	un1 := mk("ungeocoded 1", nil, crm.Geocode{Error: `city "Xyzzyville" is not in the offline gazetteer`})
	un2 := mk("ungeocoded 2", nil, crm.Geocode{Error: "the address is empty"})

	var got []string
	cursor := ""
	for {
		page, next, err := store.GeocodeReview(ctx, crm.ReviewFilter{Limit: 2, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range page {
			got = append(got, c.Name)
		}
		if next == "" {
			break
		}
		cursor = next
	}
	if strings.Join(got, ",") != "ungeocoded 1,ungeocoded 2,low" {
		t.Fatalf("review list %v, want the ungeocoded then the low-confidence record", got)
	}

	// A user fixes one by dragging its pin: stored as manual, out of the list.
	c, err := store.PlaceManually(ctx, crm.Scope{}, un1.ID, un1.Version, 1.52, 42.51)
	if err != nil || c.Geocode.Precision != "manual" || c.Geocode.Error != "" || c.Location == nil {
		t.Fatalf("PlaceManually: %+v, %v", c, err)
	}
	if _, err := store.PlaceManually(ctx, crm.Scope{}, un1.ID, un1.Version, 1.52, 42.51); geo.ErrorCode(err) != geo.ECONFLICT {
		t.Errorf("stale version: %v, want ECONFLICT", err)
	}
	if _, err := store.PlaceManually(ctx, crm.Scope{}, un2.ID, un2.Version, 1.52, 95); geo.ErrorCode(err) != geo.EINVALID {
		t.Errorf("bad latitude: %v, want EINVALID", err)
	}
	page, _, _ := store.GeocodeReview(ctx, crm.ReviewFilter{})
	if len(page) != 2 || page[0].ID != un2.ID || page[1].ID != low.ID {
		t.Errorf("after the fix: %d records", len(page))
	}
	if _, _, err := store.GeocodeReview(ctx, crm.ReviewFilter{Cursor: "x"}); geo.ErrorCode(err) != geo.EINVALID {
		t.Errorf("bad cursor: %v", err)
	}
	if page, _, _ := store.GeocodeReview(ctx, crm.ReviewFilter{Scope: crm.Scope{Restricted: true, Owners: []string{"nobody"}}}); len(page) != 0 {
		t.Errorf("scope: %d records visible", len(page))
	}
}
