package geocode_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"strings"
	"testing"

	"github.com/gcrm/gcrm/geo/geocode"
	"github.com/paulmach/orb"
)

// FuzzCSV feeds any bytes to the CSV reader behind 'gcrm geocode': it must not panic,
// and every row it counts comes out as one row with the added columns.
func FuzzCSV(f *testing.F) {
	for _, s := range []string{
		"street,city,state,zip\n1 Main St,Springfield,IL,62701\n",
		"full_address\n\"1 Main St, Springfield, IL 62701\"\n",
		"\ufeffzip,lat,lon\n62701,,\n62701,39.8,-89.6\n",
		"city\n\"unterminated\n",
		"zip\n\"a\"b\",x\n\n\n",
	} {
		f.Add(s)
	}
	g := geocode.NewGazetteer("US")
	g.AddPostcode(geocode.Postcode{Code: "62701", Country: "US", Point: orb.Point{-89.65, 39.8}})
	g.AddPlace(geocode.Place{Name: "Springfield", Country: "US", Admin1: "IL", Population: 100, Point: orb.Point{-89.6, 39.8}})
	f.Fuzz(func(t *testing.T, in string) {
		var out bytes.Buffer
		st, err := geocode.CSV(context.Background(), strings.NewReader(in), &out, g, nil)
		if err != nil {
			return
		}
		recs, rerr := csv.NewReader(&out).ReadAll()
		if rerr != nil {
			t.Fatalf("output is not CSV: %v\n%q", rerr, out.String())
		}
		if int64(len(recs)) != st.Rows+1 {
			t.Fatalf("%d rows counted, %d written", st.Rows, len(recs)-1)
		}
		if st.Placed > st.Rows {
			t.Fatalf("placed %d of %d", st.Placed, st.Rows)
		}
	})
}
