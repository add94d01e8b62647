package main

import (
	"context"
	"encoding/csv"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"
	_ "time/tzdata" // --tz works on machines without a zoneinfo database

	"github.com/gcrm/gcrm/crm"
	"github.com/gcrm/gcrm/geo"
)

func init() {
	registerImport("footfall", "hourly footfall counts per sensor (long or wide CSV)", importFootfallCmd)
}

// importFootfallCmd runs 'gcrm import footfall FILE.csv [--format long|wide] [--sensors
// LOCATIONS.csv] [--columns MAP.csv] [--tz ZONE]': sensors are upserted from the locations
// file, then every hourly value of FILE is stored — missing ones (-1, blank, "undefined") as
// NULL, never 0 — and rejected rows or cells go to FILE.rejects.csv (_row, _reason).
func importFootfallCmd(ctx context.Context, e env) int {
	fs := flag.NewFlagSet("import footfall", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprintln(e.stderr, `usage: gcrm import footfall FILE.csv [flags]

FILE is either long — one row per sensor and hour: sensor_id, [latitude, longitude],
timestamp or date + hour, count — or wide — one row per hour: timestamp or date + hour,
then one column per sensor. Columns of a wide file are matched to sensors by --columns, then
by name against --sensors, else the header becomes the sensor id. Counts of -1, blank,
"undefined" or NA are kept missing. Re-importing a file replaces its values.

flags:`)
		fs.PrintDefaults()
	}
	var dbf dbFlags
	dbf.register(fs, e.getenv)
	format := fs.String("format", "", "long or wide (default: detected from the header)")
	sensors := fs.String("sensors", "", "sensor locations CSV (sensor_id, sensor_description/name, latitude, longitude)")
	columns := fs.String("columns", "", "wide files: CSV mapping column header → sensor_id (a header row, then two columns)")
	tz := fs.String("tz", "UTC", "time zone of the file's dates and hours (IANA name, e.g. Australia/Melbourne)")
	layout := fs.String("date-layout", "", "Go layout of the date or timestamp column (default: ISO 2006-01-02 or day-first 02/01/2006)")
	rejectsPath := fs.String("rejects", "", "where to write rejected rows (default: FILE.rejects.csv beside the input)")
	file, err := parseWithFile(fs, e.args)
	if err != nil {
		return 2
	}
	if file == "" {
		fs.Usage()
		return 2
	}
	if *format != "" && *format != crm.FootfallLong && *format != crm.FootfallWide {
		return fail(e, geo.Errorf(geo.EINVALID, "--format %q is not long or wide", *format))
	}
	loc, err := time.LoadLocation(*tz)
	if err != nil {
		return fail(e, geo.Errorf(geo.EINVALID, "time zone %q is not known: use an IANA name such as Australia/Melbourne", *tz))
	}
	f := crm.FootfallFormat{Format: *format, Location: loc, DateLayout: *layout}
	if *columns != "" {
		m, err := os.Open(*columns)
		if err != nil {
			return fail(e, geo.Errorf(geo.EINVALID, "cannot open %s: %v", *columns, err))
		}
		f.Columns, err = crm.ReadFootfallColumns(m)
		m.Close()
		if err != nil {
			return fail(e, err)
		}
	}
	in, _, closeIn, err := openInput(file, e.stdin)
	if err != nil {
		return fail(e, err)
	}
	defer closeIn()
	rf, err := newRejectsFile(file, rejectsPath)
	if err != nil {
		return fail(e, err)
	}
	defer rf.Close()
	db, closeDB, err := dbf.open(ctx, e)
	if err != nil {
		return fail(e, err)
	}
	defer closeDB()
	store := &crm.FootfallStore{DB: db}
	rejects := csv.NewWriter(&headerFirst{w: rf, header: "_row,_reason\n"})
	start := time.Now()
	if *sensors != "" {
		sf, err := os.Open(*sensors)
		if err != nil {
			return fail(e, geo.Errorf(geo.EINVALID, "cannot open %s: %v", *sensors, err))
		}
		sensorRejects := csv.NewWriter(e.stderr)
		n, names, err := store.ImportSensors(ctx, sf, loc.String(), sensorRejects)
		sf.Close()
		sensorRejects.Flush()
		if err != nil {
			return fail(e, err)
		}
		f.Names = names
		fmt.Fprintf(e.stdout, "gcrm: %s: %d sensors\n", *sensors, n)
	}
	st, err := store.ImportCounts(ctx, in, f, rejects)
	rejects.Flush()
	if cerr := rf.Close(); err == nil && cerr != nil {
		err = geo.Errorf(geo.EUNAVAILABLE, "cannot write %s: %v", *rejectsPath, cerr)
	}
	if err != nil {
		return fail(e, err)
	}
	fmt.Fprintf(e.stdout, "gcrm: %s: %d rows in %.1fs: %d hourly values stored (%d missing, kept as missing) for %d sensors, %d rejected\n",
		file, st.Rows, time.Since(start).Seconds(), st.Counts, st.Missing, st.Sensors, st.Rejected)
	if len(st.NoLocation) > 0 {
		fmt.Fprintf(e.stderr, "gcrm: %d sensors have no location, so their counts are stored but not on the map: %s (give --sensors or --columns)\n",
			len(st.NoLocation), strings.Join(st.NoLocation, ", "))
	}
	switch {
	case st.Rows == 0:
		fmt.Fprintln(e.stderr, "gcrm: the file has no data rows: nothing was imported")
		return 1
	case st.Rejected > 0:
		fmt.Fprintf(e.stderr, "gcrm: rejected rows, with _row and _reason, are in %s\n", *rejectsPath)
		return 2
	}
	return 0
}
