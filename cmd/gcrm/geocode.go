package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/gcrm/gcrm/geo"
	"github.com/gcrm/gcrm/geo/geocode"
	"github.com/gcrm/gcrm/geo/postgis"
)

func init() {
	register("geocode", "add lat/lon/precision/confidence to a CSV of addresses: gcrm geocode FILE.csv", geocodeCmd)
}

// geocodeCmd runs 'gcrm geocode FILE.csv [--out PATH]': every row comes out, with lat, lon,
// precision, confidence, source and geocode_error. Exit code 0 when every row was placed,
// 2 when some could not be, 1 on failure.
func geocodeCmd(ctx context.Context, e env) int {
	fs := flag.NewFlagSet("geocode", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprintln(e.stderr, "usage: gcrm geocode FILE.csv [flags]\n\n"+
			"The first row names the columns. The address is read from street (or address, address1),\n"+
			"housenumber, city, state (or region), zip (or postcode) and country columns — or one\n"+
			"free-form column (full_address, address when there is no city column). The output is\n"+
			"the input with lat, lon, precision, confidence, source and geocode_error added (lat/lon\n"+
			"already in the file are kept, with precision \"given\"). FILE - reads stdin.\n\n"+
			"Exit code: 0 every row placed, 2 some rows not placed, 1 failure.\n\nflags:")
		fs.PrintDefaults()
	}
	var dbf dbFlags
	dbf.register(fs, e.getenv)
	var gf geocodeFlags
	gf.register(fs, e.getenv)
	out := fs.String("out", "", "output CSV (default FILE.geocoded.csv beside the input; - for stdout)")
	args, err := importArgs(fs, e.args)
	if err != nil {
		return 2
	}
	if len(args) != 1 {
		fs.Usage()
		return 2
	}
	file := args[0]
	in, _, closeIn, err := openInput(file, e.stdin)
	if err != nil {
		return fail(e, err)
	}
	defer closeIn()
	var db *postgis.DB
	if gf.needsDB() {
		var closeDB func()
		if db, closeDB, err = dbf.open(ctx, e); err != nil {
			return fail(e, err)
		}
		defer closeDB()
	}
	g, err := gf.build(ctx, e, db)
	if err != nil {
		return fail(e, err)
	}
	if *out == "" {
		*out = strings.TrimSuffix(strings.TrimSuffix(file, ".csv"), ".CSV") + ".geocoded.csv"
		if file == "-" {
			*out = "-"
		}
	}
	var w io.Writer = e.stdout
	var outFile *os.File
	if *out != "-" {
		if outFile, err = os.Create(*out); err != nil {
			return fail(e, geo.Errorf(geo.EINVALID, "cannot create %s: %v", *out, err))
		}
		defer outFile.Close()
		w = outFile
	}
	bw := bufio.NewWriterSize(w, 1<<16)
	start, last := time.Now(), time.Now()
	st, err := geocode.CSV(ctx, in, bw, g, func(rows int64) {
		if now := time.Now(); now.Sub(last) >= 2*time.Second {
			last = now
			fmt.Fprintf(e.stderr, "geocoding %s: %s rows, %s rows/s\n", file, thousands(rows), thousands(int64(float64(rows)/now.Sub(start).Seconds())))
		}
	})
	if ferr := bw.Flush(); err == nil && ferr != nil {
		err = geo.Errorf(geo.EUNAVAILABLE, "cannot write %s: %v", *out, ferr)
	}
	if outFile != nil {
		if cerr := outFile.Close(); err == nil && cerr != nil {
			err = geo.Errorf(geo.EUNAVAILABLE, "cannot write %s: %v", *out, cerr)
		}
	}
	if err != nil {
		return fail(e, err)
	}
	secs := time.Since(start).Seconds()
	var by []string
	for _, p := range []string{geocode.PrecisionGiven, geocode.PrecisionRooftop, geocode.PrecisionStreet, geocode.PrecisionPostcode, geocode.PrecisionCity, geocode.PrecisionRegion} {
		if n := st.ByPrecision[p]; n > 0 {
			by = append(by, fmt.Sprintf("%s %s", thousands(n), p))
		}
	}
	fmt.Fprintf(e.stderr, "gcrm: %s: %s rows in %.1fs (%s rows/s): %s placed (%s), %s not placed, %s low confidence (< %.2f)\n",
		file, thousands(st.Rows), secs, thousands(int64(float64(st.Rows)/max(secs, 1e-9))), thousands(st.Placed),
		strings.Join(by, ", "), thousands(st.Rows-st.Placed), thousands(st.Low), geocode.LowConfidence)
	if *out != "-" {
		fmt.Fprintf(e.stdout, "gcrm: wrote %s\n", *out)
	}
	if st.Placed < st.Rows {
		return 2
	}
	return 0
}
