package main

import (
	"context"
	"flag"
	"fmt"
	"path/filepath"
	"time"

	"github.com/gcrm/gcrm/crm"
	"github.com/gcrm/gcrm/geo/geocode"
)

func init() {
	registerImport("addresses", "addresses from an OpenStreetMap extract (FILE.osm.pbf, .osm, .osm.gz) for the offline geocoder", importAddressesCmd)
}

// importAddressesCmd runs 'gcrm import addresses FILE.osm.pbf': the extract's addresses
// (nodes, buildings, interpolation lines) replace those an earlier import of the same file
// name stored.
func importAddressesCmd(ctx context.Context, e env) int {
	fs := flag.NewFlagSet("import addresses", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprintln(e.stderr, "usage: gcrm import addresses FILE.osm.pbf [flags]\n\n"+
			"Reads addr:housenumber with addr:street (or addr:place) on nodes, ways and multipolygons, and\n"+
			"the numbers along addr:interpolation lines, into the table the osm geocoder searches.\n"+
			"Importing a file again replaces its addresses.\n\nflags:")
		fs.PrintDefaults()
	}
	var dbf dbFlags
	dbf.register(fs, e.getenv)
	args, err := importArgs(fs, e.args)
	if err != nil {
		return 2
	}
	if len(args) != 1 {
		fs.Usage()
		return 2
	}
	start := time.Now()
	addrs, err := geocode.ReadOSMAddresses(ctx, args[0])
	if err != nil {
		return fail(e, err)
	}
	read := time.Since(start)
	kinds := map[string]int{}
	interp := 0
	for _, a := range addrs {
		kinds[a.OSMType]++
		if a.Interpolated {
			interp++
		}
	}
	db, closeDB, err := dbf.open(ctx, e)
	if err != nil {
		return fail(e, err)
	}
	defer closeDB()
	n, err := crm.NewAddressStore(db).ReplaceAddresses(ctx, filepath.Base(args[0]), addrs)
	if err != nil {
		return fail(e, err)
	}
	fmt.Fprintf(e.stdout, "gcrm: %s: %s addresses (%s nodes, %s ways, %s relations; %s interpolated) read in %.1fs, stored in %.1fs\n",
		args[0], thousands(n), thousands(int64(kinds["node"])), thousands(int64(kinds["way"]-interp)), thousands(int64(kinds["relation"])),
		thousands(int64(interp)), read.Seconds(), (time.Since(start) - read).Seconds())
	if n == 0 {
		fmt.Fprintln(e.stderr, "gcrm: the extract holds no addresses (addr:housenumber with addr:street or addr:place)")
	}
	return 0
}
