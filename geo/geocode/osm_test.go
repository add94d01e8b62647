package geocode_test

import (
	"context"
	"math"
	"testing"

	"github.com/gcrm/gcrm/geo"
	"github.com/gcrm/gcrm/geo/geocode"
	orbgeo "github.com/paulmach/orb/geo"
)

func TestReadOSMAddresses(t *testing.T) {
	for _, tc := range []struct {
		file string
		want int
	}{
		// The extracts are road-network test files: few addresses survive in them, all of
		// them must be read. Counted with osmium-tool ('osmium tags-filter -R FILE
		// addr:housenumber'): Andorra has 3 objects with a house number (3 nodes, all with
		// addr:street; its other addr:* objects are 15 boundary relations and a node with
		// only addr:postcode or addr:country_code). Monaco has 26 (25 nodes, 1 way): 22 with
		// addr:street, 1 house of an associatedStreet relation, 3 with neither (no street
		// to find them by).
		{"osm/andorra.osm.pbf", 3},
		{"osm/monaco.osm.gz", 23},
	} {
		t.Run(tc.file, func(t *testing.T) {
			addrs, err := geocode.ReadOSMAddresses(context.Background(), sharedData(t, tc.file))
			if err != nil {
				t.Fatal(err)
			}
			if len(addrs) != tc.want {
				t.Fatalf("%d addresses, want %d", len(addrs), tc.want)
			}
			ix := geocode.NewAddressIndex(addrs)
			for _, a := range addrs {
				if a.HouseNumber == "" || a.Street == "" || !geo.ValidLonLat(a.Point[0], a.Point[1]) {
					t.Errorf("bad address %+v", a)
				}
				r, err := ix.Geocode(context.Background(), geocode.Query{Street: a.Street, HouseNumber: a.HouseNumber, City: a.City})
				if err != nil {
					t.Errorf("%s %s: %v", a.Street, a.HouseNumber, err)
					continue
				}
				// The same address mapped on several buildings of one block (Monaco has 25
				// Avenue Albert II five times) answers with one of them.
				if d := orbgeo.Distance(r.Point, a.Point); d > 100 && !r.Ambiguous {
					t.Errorf("%s %s found %.0f m away", a.Street, a.HouseNumber, d)
				}
			}
		})
	}
}

func TestAddressIndex_Street(t *testing.T) {
	addrs, err := geocode.ReadOSMAddresses(context.Background(), sharedData(t, "osm/andorra.osm.pbf"))
	if err != nil {
		t.Fatal(err)
	}
	ix := geocode.NewAddressIndex(addrs)
	a := addrs[0]
	r, err := ix.Geocode(context.Background(), geocode.Query{Street: a.Street, HouseNumber: "99999"})
	if err != nil || r.Precision != geocode.PrecisionStreet {
		t.Errorf("unknown number on a known street: %+v, %v; want street precision", r, err)
	}
	if _, err := ix.Geocode(context.Background(), geocode.Query{Street: "Carrer Inexistent", HouseNumber: "1"}); geo.ErrorCode(err) != geo.ENOTFOUND {
		t.Errorf("unknown street: %v, want ENOTFOUND", err)
	}
	if _, err := geocode.ReadOSMAddresses(context.Background(), sharedData(t, "places/us/us_zcta_centroids_2021_uszips.csv")); geo.ErrorCode(err) != geo.EINVALID {
		t.Errorf("a CSV is not an extract: %v, want EINVALID", err)
	}
}

func TestReadOSMAddresses_Forms(t *testing.T) {
	addrs, err := geocode.ReadOSMAddresses(context.Background(), "testdata/interpolation.osm")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]geocode.Address{}
	for _, a := range addrs {
		got[a.Street+" "+a.HouseNumber] = a
	}
	// 2 and 10 are mapped; 4, 6, 8 are placed evenly along the line (1.5000 → 1.5040).
	for n, lon := range map[string]float64{"4": 1.5010, "6": 1.5020, "8": 1.5030} {
		a, ok := got["Carrer Major "+n]
		if !ok || !a.Interpolated || a.City != "Encamp" || math.Abs(a.Point[0]-lon) > 1e-5 || math.Abs(a.Point[1]-42.5) > 1e-9 {
			t.Errorf("interpolated %s: %+v (ok %v), want lon %.4f", n, a, ok, lon)
		}
	}
	if a := got["Carrer Major 2"]; a.Interpolated || a.OSMType != "node" {
		t.Errorf("mapped end: %+v", a)
	}
	// A building with "7;9" holds two addresses at its centroid.
	for _, n := range []string{"7", "9"} {
		a := got["Avinguda Meritxell "+n]
		if a.OSMType != "way" || a.Postcode != "AD500" || math.Abs(a.Point[0]-1.6005) > 1e-6 || math.Abs(a.Point[1]-42.6005) > 1e-6 {
			t.Errorf("building %s: %+v", n, a)
		}
	}
	// A multipolygon with addr:place and no street: the place stands for the street.
	if a := got["Soldeu 1"]; a.OSMType != "relation" || math.Abs(a.Point[0]-1.701) > 1e-6 {
		t.Errorf("relation: %+v", a)
	}
	// Houses of associatedStreet relations take the relation's street: its name, or its
	// street member's name.
	if a := got["Carrer de la Unió 3"]; a.OSMType != "node" || a.OSMID != 30 {
		t.Errorf("associatedStreet node: %+v", a)
	}
	if a := got["Carrer de la Unió 5"]; a.OSMType != "way" || a.OSMID != 103 || math.Abs(a.Point[1]-42.55067) > 1e-4 {
		t.Errorf("associatedStreet building: %+v", a)
	}
	if a := got["Carrer del Riu 8"]; a.OSMType != "node" || a.OSMID != 36 {
		t.Errorf("associatedStreet without a name: %+v", a)
	}
	if len(addrs) != 2+3+2+1+3 {
		t.Errorf("%d addresses, want 11: %+v", len(addrs), addrs)
	}
}
