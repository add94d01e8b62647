package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"strconv"
	"strings"

	"github.com/gcrm/gcrm/crm"
	"github.com/gcrm/gcrm/geo"
	"github.com/paulmach/orb"
)

func init() {
	register("reverse", "describe a point: its regions, nearest place, ZIP area and address: gcrm reverse LAT,LON", reverseCmd)
}

// reverseCmd runs 'gcrm reverse LAT,LON' and prints what is known about the point as JSON.
func reverseCmd(ctx context.Context, e env) int {
	fs := flag.NewFlagSet("reverse", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprintln(e.stderr, "usage: gcrm reverse LAT,LON [flags]\n\n"+
			"Prints the regions containing the point (imported with 'gcrm import regions'), the nearest\n"+
			"populated place and ZIP centroid (gazetteer), the nearest OSM address and, when --providers\n"+
			"names nominatim or pelias, what that service has at the point, as JSON.\n\nflags:")
		fs.PrintDefaults()
	}
	var dbf dbFlags
	dbf.register(fs, e.getenv)
	var gf geocodeFlags
	gf.register(fs, e.getenv)
	args, err := importArgs(fs, e.args)
	if err != nil {
		return 2
	}
	if len(args) == 2 { // "LAT LON" as two arguments
		args = []string{args[0] + "," + args[1]}
	}
	if len(args) != 1 {
		fs.Usage()
		return 2
	}
	latS, lonS, ok := strings.Cut(args[0], ",")
	lat, err1 := strconv.ParseFloat(strings.TrimSpace(latS), 64)
	lon, err2 := strconv.ParseFloat(strings.TrimSpace(lonS), 64)
	if !ok || err1 != nil || err2 != nil {
		return fail(e, geo.Errorf(geo.EINVALID, "%q is not LAT,LON in degrees (e.g. 41.8781,-87.6298)", args[0]))
	}
	services, err := gf.reversers()
	if err != nil {
		return fail(e, err)
	}
	g, err := gf.loadGazetteer(e)
	if err != nil {
		return fail(e, err)
	}
	db, closeDB, err := dbf.open(ctx, e)
	if err != nil {
		return fail(e, err)
	}
	defer closeDB()
	r, err := crm.NewAddressStore(db).ReverseGeocode(ctx, g, orb.Point{lon, lat})
	if err != nil {
		return fail(e, err)
	}
	for _, s := range services {
		res, err := s.Reverse(ctx, orb.Point{lon, lat})
		sr := crm.ServiceReverse{Service: s.Name()}
		if err != nil {
			sr.Error = geo.ErrorMessage(err)
		} else {
			sr.Result = &res
		}
		r.Services = append(r.Services, sr)
	}
	enc := json.NewEncoder(e.stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return fail(e, err)
	}
	return 0
}
