package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gcrm/gcrm/crm"
	"github.com/gcrm/gcrm/geo/geocode"
	"github.com/gcrm/gcrm/geo/postgis/pgtest"
	"github.com/gcrm/gcrm/web"
	"github.com/paulmach/orb"
)

// newGeocodeServer is a test server with the geocoding routes on a small gazetteer: two
// Springfields (IL, MO), Austin TX and ZIP 78701.
func newGeocodeServer(t *testing.T, l *web.GeocoderLoader) *testServer {
	t.Helper()
	db := pgtest.New(t)
	srv := &web.Server{DB: db, Customers: crm.NewStore(db), Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	srv.Mounts = append(srv.Mounts, srv.GeocodeRoutes(l), srv.ImportRoutes)
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return &testServer{Server: ts, srv: srv, auth: userToken(t, srv, "admin@test.gcrm", crm.RoleAdmin)}
}

func testGazetteer() *geocode.Gazetteer {
	g := geocode.NewGazetteer("US")
	g.AddPlace(geocode.Place{Name: "Springfield", Country: "US", Admin1: "IL", Population: 114000, Point: orb.Point{-89.65, 39.78}})
	g.AddPlace(geocode.Place{Name: "Springfield", Country: "US", Admin1: "MO", Population: 169000, Point: orb.Point{-93.29, 37.21}})
	g.AddPlace(geocode.Place{Name: "Austin", Country: "US", Admin1: "TX", Population: 960000, Point: orb.Point{-97.74, 30.27}})
	g.AddPostcode(geocode.Postcode{Code: "78701", Country: "US", Place: "Austin", Admin1: "TX", Point: orb.Point{-97.74, 30.27}})
	return g
}

type reviewJSON struct {
	Features []struct {
		ID            int64  `json:"id"`
		GeocodeStatus string `json:"geocode_status"`
		Geometry      *struct {
			Coordinates [2]float64 `json:"coordinates"`
		} `json:"geometry"`
		Properties struct {
			Name    string `json:"name"`
			Version int    `json:"version"`
			Geocode struct {
				Precision  string  `json:"precision"`
				Confidence float64 `json:"confidence"`
				Error      string  `json:"error"`
			} `json:"geocode"`
		} `json:"properties"`
	} `json:"features"`
	Next string `json:"next_cursor"`
}

func TestGeocodeReviewAPI(t *testing.T) {
	ts := newGeocodeServer(t, web.ReadyGeocoder(&web.Geocoding{Geocoder: &geocode.Chain{Geocoders: []geocode.Geocoder{testGazetteer()}, MinConfidence: 0.5}}))
	ctx := context.Background()
	mk := func(name, owner string, loc *orb.Point, g crm.Geocode) *crm.Customer {
		c := &crm.Customer{Name: name, Owner: owner, City: "Sprngfield", Region: "IL", Geocode: g}
		if loc != nil {
			c.SetLocation(loc[0], loc[1])
		}
		if err := ts.srv.Customers.Create(ctx, c); err != nil {
			t.Fatal(err)
		}
		return c
	}
	unplaced := mk("Unplaced", "rep1@demo.gcrm", nil, crm.Geocode{Source: "gazetteer", Error: `city "Sprngfield" in IL is not in the offline gazetteer`})
	other := mk("Other rep's", "rep2@demo.gcrm", nil, crm.Geocode{Error: "no address"})
	low := mk("Low", "rep1@demo.gcrm", &orb.Point{-89.65, 39.78}, crm.Geocode{Precision: "city", Confidence: 0.3, Source: "gazetteer"})
	mk("Good", "rep1@demo.gcrm", &orb.Point{-97.74, 30.27}, crm.Geocode{Precision: "postcode", Confidence: 0.9, Source: "gazetteer"})

	review := func(t *testing.T, ts *testServer, query string) reviewJSON {
		t.Helper()
		resp, body := ts.do(t, "GET", "/api/v1/geocode/review"+query, "")
		if resp.StatusCode != 200 {
			t.Fatalf("review%s: %d %s", query, resp.StatusCode, body)
		}
		var r reviewJSON
		if err := json.Unmarshal([]byte(body), &r); err != nil {
			t.Fatal(err)
		}
		return r
	}
	t.Run("OK", func(t *testing.T) {
		r := review(t, ts, "")
		var got []string
		for _, f := range r.Features {
			got = append(got, fmt.Sprintf("%s:%s", f.Properties.Name, f.GeocodeStatus))
		}
		want := "Unplaced:ungeocoded Other rep's:ungeocoded Low:low_confidence"
		if strings.Join(got, " ") != want {
			t.Fatalf("review list %v, want %s", got, want)
		}
		if r.Features[0].Properties.Geocode.Error == "" || r.Features[0].Geometry != nil || r.Features[2].Geometry == nil {
			t.Fatalf("first %+v, third %+v", r.Features[0], r.Features[2])
		}
	})
	t.Run("Paged", func(t *testing.T) {
		r := review(t, ts, "?limit=2")
		if len(r.Features) != 2 || r.Next == "" {
			t.Fatalf("page 1: %d features, next %q", len(r.Features), r.Next)
		}
		r2 := review(t, ts, "?limit=2&cursor="+r.Next)
		if len(r2.Features) != 1 || r2.Features[0].ID != low.ID || r2.Next != "" {
			t.Fatalf("page 2: %+v", r2)
		}
	})
	t.Run("MaxConfidence", func(t *testing.T) {
		if r := review(t, ts, "?max_confidence=0.95"); len(r.Features) != 4 {
			t.Fatalf("max_confidence=0.95: %d features, want 4", len(r.Features))
		}
	})
	t.Run("RepScope", func(t *testing.T) {
		rep := ts.as(userToken(t, ts.srv, "rep1@demo.gcrm", crm.RoleRep))
		r := review(t, rep, "")
		for _, f := range r.Features {
			if f.ID == other.ID {
				t.Fatalf("rep1 sees rep2's record %d", other.ID)
			}
		}
		if len(r.Features) != 2 {
			t.Fatalf("rep1 sees %d records, want 2", len(r.Features))
		}
	})
	t.Run("PlannerForbidden", func(t *testing.T) {
		planner := ts.as(userToken(t, ts.srv, "planner@test.gcrm", crm.RolePlanner))
		if resp, body := planner.do(t, "GET", "/api/v1/geocode/review", ""); resp.StatusCode != 403 {
			t.Fatalf("planner: %d %s", resp.StatusCode, body)
		}
		// The UI hides the Review button by the geocode.review capability.
		for tok, want := range map[*testServer]bool{planner: false, ts: true} {
			_, body := tok.do(t, "GET", "/api/v1/auth/me", "")
			var me struct{ Can map[string]bool }
			json.Unmarshal([]byte(body), &me)
			if me.Can["geocode.review"] != want {
				t.Errorf("can geocode.review = %v, want %v: %s", me.Can["geocode.review"], want, body)
			}
		}
	})
	t.Run("ErrInvalid", func(t *testing.T) {
		for _, q := range []string{"?limit=0", "?limit=x", "?max_confidence=2", "?max_confidence=NaN", "?cursor=%21%21"} {
			if resp, body := ts.do(t, "GET", "/api/v1/geocode/review"+q, ""); resp.StatusCode != 400 || !strings.Contains(body, "problem") && !strings.Contains(body, "detail") {
				t.Errorf("%s: %d %s", q, resp.StatusCode, body)
			}
		}
	})
	t.Run("CustomersGeocodedFalse", func(t *testing.T) {
		resp, body := ts.do(t, "GET", "/api/v1/customers?geocoded=false", "")
		var fc reviewJSON
		json.Unmarshal([]byte(body), &fc)
		if resp.StatusCode != 200 || len(fc.Features) != 2 || fc.Features[0].GeocodeStatus != "ungeocoded" {
			t.Fatalf("geocoded=false: %d %s", resp.StatusCode, body)
		}
		resp, body = ts.do(t, "GET", "/api/v1/customers?geocoded=true", "")
		json.Unmarshal([]byte(body), &fc)
		if resp.StatusCode != 200 || len(fc.Features) != 2 || fc.Features[0].GeocodeStatus != "low_confidence" || fc.Features[1].GeocodeStatus != "ok" {
			t.Fatalf("geocoded=true: %d %s", resp.StatusCode, body)
		}
		if resp, body := ts.do(t, "GET", "/api/v1/customers?geocoded=maybe", ""); resp.StatusCode != 400 {
			t.Fatalf("geocoded=maybe: %d %s", resp.StatusCode, body)
		}
	})
	// The fix: search, pick a candidate, PATCH lat/lon → precision manual, off the list.
	t.Run("Fix", func(t *testing.T) {
		resp, body := ts.do(t, "GET", "/api/v1/geocode/search?q="+urlEscape("Springfield, IL"), "")
		var s struct {
			Candidates []struct {
				Lat, Lon   float64
				Precision  string
				Confidence float64
				Provider   string
			}
		}
		json.Unmarshal([]byte(body), &s)
		if resp.StatusCode != 200 || len(s.Candidates) == 0 {
			t.Fatalf("search: %d %s", resp.StatusCode, body)
		}
		c := s.Candidates[0]
		resp, body = ts.do(t, "PATCH", "/api/v1/customers/"+itoa(unplaced.ID), fmt.Sprintf(`{"version":%d,"lat":%g,"lon":%g}`, unplaced.Version, c.Lat, c.Lon))
		if resp.StatusCode != 200 || !strings.Contains(body, `"precision":"manual"`) {
			t.Fatalf("fix: %d %s", resp.StatusCode, body)
		}
		got, err := ts.srv.Customers.FindByID(ctx, crm.Scope{}, unplaced.ID)
		if err != nil || got.Location == nil || got.Geocode.Precision != geocode.PrecisionManual || got.Geocode.Error != "" {
			t.Fatalf("after the fix: %+v %v", got, err)
		}
		for _, f := range review(t, ts, "").Features {
			if f.ID == unplaced.ID {
				t.Fatal("a fixed record is still on the review list")
			}
		}
	})
}

func urlEscape(s string) string { return strings.NewReplacer(" ", "+", ",", "%2C").Replace(s) }

func TestGeocodeSearchAPI(t *testing.T) {
	ts := newGeocodeServer(t, web.ReadyGeocoder(&web.Geocoding{Geocoder: &geocode.Chain{Geocoders: []geocode.Geocoder{testGazetteer()}, MinConfidence: 0.5}}))
	type cand struct {
		Lat, Lon   float64
		Label      string
		Precision  string
		Confidence float64
		Provider   string
	}
	search := func(t *testing.T, q string) ([]cand, int, string) {
		resp, body := ts.do(t, "GET", "/api/v1/geocode/search?q="+q, "")
		var s struct{ Candidates []cand }
		json.Unmarshal([]byte(body), &s)
		return s.Candidates, resp.StatusCode, body
	}
	t.Run("Postcode", func(t *testing.T) {
		c, st, body := search(t, "1+Congress+Ave%2C+Austin%2C+TX+78701")
		if st != 200 || len(c) == 0 || c[0].Precision != "postcode" || c[0].Provider != "gazetteer" || c[0].Lat != 30.27 {
			t.Fatalf("%d %s", st, body)
		}
	})
	t.Run("OSMAddressFirst", func(t *testing.T) { // the address table (PostGIS) beats the ZIP centroid
		addrs := crm.NewAddressStore(ts.srv.DB)
		if _, err := addrs.ReplaceAddresses(context.Background(), "test", []geocode.Address{{HouseNumber: "1", Street: "Congress Avenue", Postcode: "78701",
			City: "Austin", Country: "US", Point: orb.Point{-97.7431, 30.2634}, OSMType: "node", OSMID: 1}}); err != nil {
			t.Fatal(err)
		}
		l := web.ReadyGeocoder(&web.Geocoding{Geocoder: &geocode.Chain{Geocoders: []geocode.Geocoder{addrs, testGazetteer()}, MinConfidence: 0.5}})
		ts2 := newGeocodeServer(t, l)
		resp, body := ts2.do(t, "GET", "/api/v1/geocode/search?q=1+Congress+Ave%2C+Austin%2C+TX+78701", "")
		var s struct{ Candidates []cand }
		json.Unmarshal([]byte(body), &s)
		if resp.StatusCode != 200 || len(s.Candidates) != 2 || s.Candidates[0].Provider != "osm" || s.Candidates[0].Precision != "rooftop" || s.Candidates[1].Precision != "postcode" {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
	})
	t.Run("Ambiguous", func(t *testing.T) { // both Springfields to choose from
		c, st, body := search(t, "Springfield")
		if st != 200 || len(c) != 2 {
			t.Fatalf("%d %s", st, body)
		}
	})
	t.Run("NotFound", func(t *testing.T) {
		c, st, body := search(t, "Nowhereville%2C+ZZ")
		if st != 200 || len(c) != 0 || !strings.Contains(body, `"reason"`) {
			t.Fatalf("%d %s", st, body)
		}
	})
	t.Run("ErrInvalid", func(t *testing.T) {
		for _, q := range []string{"", "+++", strings.Repeat("a", 400), "%ff%fe"} {
			if _, st, body := search(t, q); st != 400 {
				t.Errorf("q=%q: %d %s", q, st, body)
			}
		}
	})
	t.Run("AnyRole", func(t *testing.T) {
		m := ts.as(userToken(t, ts.srv, "m@test.gcrm", crm.RoleMarketer))
		if resp, body := m.do(t, "GET", "/api/v1/geocode/search?q=Austin%2C+TX", ""); resp.StatusCode != 200 {
			t.Fatalf("marketer: %d %s", resp.StatusCode, body)
		}
		if resp, _ := ts.as("").do(t, "GET", "/api/v1/geocode/search?q=Austin", ""); resp.StatusCode != 401 {
			t.Fatalf("anonymous: %d", resp.StatusCode)
		}
	})
}

func TestGeocodeReverseAPI(t *testing.T) {
	ts := newGeocodeServer(t, web.ReadyGeocoder(&web.Geocoding{Geocoder: &geocode.Chain{Geocoders: []geocode.Geocoder{testGazetteer()}}}))
	ctx := context.Background()
	if _, err := ts.srv.DB.Pool.Exec(ctx, `INSERT INTO regions (level, code, name, geom)
		VALUES ('state', '48', 'Texas', ST_Multi(ST_MakeEnvelope(-106, 25, -93, 36, 4326)))`); err != nil {
		t.Fatal(err)
	}
	t.Run("OK", func(t *testing.T) {
		resp, body := ts.do(t, "GET", "/api/v1/geocode/reverse?lat=30.3&lon=-97.7", "")
		var r struct {
			Regions  []struct{ Level, Code, Name string }
			Place    *struct{ Name string }
			Postcode *struct{ Code string }
		}
		json.Unmarshal([]byte(body), &r)
		if resp.StatusCode != 200 || len(r.Regions) != 1 || r.Regions[0].Name != "Texas" || r.Place == nil || r.Place.Name != "Austin" || r.Postcode == nil || r.Postcode.Code != "78701" {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
	})
	t.Run("ErrInvalid", func(t *testing.T) {
		for _, q := range []string{"", "?lat=30", "?lat=x&lon=1", "?lat=91&lon=0", "?lat=0&lon=-181", "?lat=NaN&lon=0", "?lat=1e999&lon=0"} {
			if resp, body := ts.do(t, "GET", "/api/v1/geocode/reverse"+q, ""); resp.StatusCode != 400 {
				t.Errorf("%s: %d %s", q, resp.StatusCode, body)
			}
		}
	})
}

func TestGeocodeUnavailable(t *testing.T) {
	release := make(chan struct{})
	l := web.LoadGeocoder(context.Background(), func(ctx context.Context) (*web.Geocoding, error) {
		<-release
		return &web.Geocoding{Geocoder: testGazetteer()}, nil
	})
	ts := newGeocodeServer(t, l)
	resp, body := ts.do(t, "GET", "/api/v1/geocode/search?q=Austin%2C+TX", "")
	if resp.StatusCode != 503 || !strings.Contains(body, "geocoder is still loading") {
		t.Fatalf("while loading: %d %s", resp.StatusCode, body)
	}
	if resp, body := ts.do(t, "GET", "/api/v1/geocode/review", ""); resp.StatusCode != 200 {
		t.Fatalf("review while loading: %d %s", resp.StatusCode, body)
	}
	close(release)
	for range 100 {
		if resp, _ = ts.do(t, "GET", "/api/v1/geocode/search?q=Austin%2C+TX", ""); resp.StatusCode == 200 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("after loading: %d", resp.StatusCode)
}

// TestGeocodeImport is the "done when": a CSV of addresses without coordinates,
// imported through the API, puts every record on the map or in the review list, each with
// its precision (or its reason).
func TestGeocodeImport(t *testing.T) {
	ts := newGeocodeServer(t, web.ReadyGeocoder(&web.Geocoding{Geocoder: &geocode.Chain{Geocoders: []geocode.Geocoder{testGazetteer()}, MinConfidence: 0.5}}))
	file := "external_id,name,street,city,region,postcode,lat,lon\n" +
		"a,By ZIP,1 Congress Ave,Austin,TX,78701,,\n" +
		"b,Ambiguous,,Springfield,,,,\n" +
		"c,Unknown,5 Elm St,Nowhereville,ZZ,,,\n" +
		"d,Given,,,,,30.1,-97.1\n"
	resp, body := postCSV(t, ts.URL+"/api/v1/imports", ts.auth, file)
	if resp.StatusCode != 201 || !strings.Contains(body, `"inserted":4`) {
		t.Fatalf("import: %d %s", resp.StatusCode, body)
	}
	_, body = ts.do(t, "GET", "/api/v1/customers?limit=10", "")
	var all reviewJSON
	json.Unmarshal([]byte(body), &all)
	got := map[string]string{}
	for _, f := range all.Features {
		got[f.Properties.Name] = f.GeocodeStatus + ":" + f.Properties.Geocode.Precision
	}
	want := map[string]string{"By ZIP": "ok:postcode", "Ambiguous": "low_confidence:city", "Unknown": "ungeocoded:", "Given": "ok:given"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("after the import: %v, want %v", got, want)
	}
	_, body = ts.do(t, "GET", "/api/v1/geocode/review", "")
	var rv reviewJSON
	json.Unmarshal([]byte(body), &rv)
	if len(rv.Features) != 2 || rv.Features[0].Properties.Name != "Unknown" || rv.Features[0].Properties.Geocode.Error == "" || rv.Features[1].Properties.Name != "Ambiguous" {
		t.Fatalf("review list: %s", body)
	}
	t.Run("GeocodeFalse", func(t *testing.T) {
		resp, body := postCSV(t, ts.URL+"/api/v1/imports?geocode=false", ts.auth, "name,city,region\nX,Austin,TX\n")
		if resp.StatusCode != 201 || !strings.Contains(body, `"rejected":1`) {
			t.Fatalf("geocode=false: %d %s", resp.StatusCode, body)
		}
		if resp, body := postCSV(t, ts.URL+"/api/v1/imports?geocode=maybe", ts.auth, "name\nX\n"); resp.StatusCode != 400 {
			t.Fatalf("geocode=maybe: %d %s", resp.StatusCode, body)
		}
	})
}
