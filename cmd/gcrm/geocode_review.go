package main

import (
	"context"
	"encoding/csv"
	"flag"
	"fmt"
	"strconv"
	"strings"

	"github.com/gcrm/gcrm/crm"
	"github.com/gcrm/gcrm/geo"
	"github.com/gcrm/gcrm/geo/geocode"
)

func init() {
	register("review", "the geocoding review list (ungeocoded and low-confidence records) as CSV; --place ID=LAT,LON fixes one", reviewCmd)
}

// reviewCmd runs 'gcrm review [--max-confidence X] [--limit N]', printing the records to
// check as CSV, or 'gcrm review --place ID=LAT,LON' storing a user's position for one
// (precision manual).
func reviewCmd(ctx context.Context, e env) int {
	fs := flag.NewFlagSet("review", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	var dbf dbFlags
	dbf.register(fs, e.getenv)
	maxConf := fs.Float64("max-confidence", geocode.LowConfidence, "list placed records below this confidence too")
	limit := fs.Int("limit", 1000, "list at most this many records (0: all)")
	place := fs.String("place", "", "store a manual position: ID=LAT,LON")
	if err := fs.Parse(e.args); err != nil {
		return 2
	}
	db, closeDB, err := dbf.open(ctx, e)
	if err != nil {
		return fail(e, err)
	}
	defer closeDB()
	store := crm.NewStore(db)
	if *place != "" {
		idS, ll, ok1 := strings.Cut(*place, "=")
		latS, lonS, ok2 := strings.Cut(ll, ",")
		id, err1 := strconv.ParseInt(strings.TrimSpace(idS), 10, 64)
		lat, err2 := strconv.ParseFloat(strings.TrimSpace(latS), 64)
		lon, err3 := strconv.ParseFloat(strings.TrimSpace(lonS), 64)
		if !ok1 || !ok2 || err1 != nil || err2 != nil || err3 != nil {
			return fail(e, geo.Errorf(geo.EINVALID, "--place %q is not ID=LAT,LON (e.g. 42=41.8781,-87.6298)", *place))
		}
		c, err := store.FindByID(ctx, crm.Scope{}, id)
		if err != nil {
			return fail(e, err)
		}
		if c, err = store.PlaceManually(ctx, crm.Scope{}, id, c.Version, lon, lat); err != nil {
			return fail(e, err)
		}
		fmt.Fprintf(e.stdout, "gcrm: customer %d placed at %.6f,%.6f (precision manual)\n", c.ID, lat, lon)
		return 0
	}
	w := csv.NewWriter(e.stdout)
	_ = w.Write([]string{"id", "external_id", "name", "street", "city", "region", "postcode", "country", "lat", "lon", "precision", "confidence", "source", "geocode_error"})
	n, cursor := 0, ""
	for {
		page, next, err := store.GeocodeReview(ctx, crm.ReviewFilter{MaxConfidence: *maxConf, Cursor: cursor, Limit: 1000})
		if err != nil {
			return fail(e, err)
		}
		for _, c := range page {
			if *limit > 0 && n >= *limit {
				next = ""
				break
			}
			lat, lon := "", ""
			if c.Location != nil {
				lat, lon = strconv.FormatFloat(c.Location[1], 'f', 6, 64), strconv.FormatFloat(c.Location[0], 'f', 6, 64)
			}
			_ = w.Write([]string{strconv.FormatInt(c.ID, 10), c.ExternalID, c.Name, c.Street, c.City, c.Region, c.Postcode, c.Country,
				lat, lon, c.Geocode.Precision, strconv.FormatFloat(c.Geocode.Confidence, 'f', 2, 64), c.Geocode.Source, c.Geocode.Error})
			n++
		}
		if next == "" {
			break
		}
		cursor = next
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return fail(e, err)
	}
	fmt.Fprintf(e.stderr, "gcrm: %d records to review\n", n)
	return 0
}
