package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/gcrm/gcrm/crm"
	"github.com/gcrm/gcrm/geo"
	"github.com/gcrm/gcrm/geo/postgis"
)

func init() {
	registerImport("customers", "customers, prospects and leads from CSV (external_id,name,kind,lat,lon,…)", importCustomersCmd)
}

// importGeocodeFlags registers the geocoding flags of 'gcrm import customers' and returns
// the builder of the --geocode geocoder, called once the database is open. It is nil until
// geocoding is built in; geocode_setup.go sets it.
var importGeocodeFlags func(fs *flag.FlagSet, getenv func(string) string) func(ctx context.Context, e env, db *postgis.DB) (crm.Geocoder, error)

// importCustomersCmd runs 'gcrm import customers FILE.csv [--rejects PATH] [--geocode]':
// every good row lands, every bad row goes to FILE.rejects.csv with its row number and
// reason. Exit code 0 when every row landed, 2 when some were rejected, 1 when nothing was
// imported.
func importCustomersCmd(ctx context.Context, e env) int {
	fs := flag.NewFlagSet("import customers", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		fmt.Fprintln(e.stderr, "usage: gcrm import customers FILE.csv [flags]\n\n"+
			"The first row names the columns: external_id,name,kind,lat,lon,street,city,region,postcode,\n"+
			"country,segment,status,owner,revenue,email,phone,consent_email,created_at (any order; other\n"+
			"columns become attributes). created_at is a date (2024-03-15, midnight UTC) or an RFC 3339\n"+
			"time (2024-03-15T10:20:00Z); blank, a new record gets the time of the import and an updated\n"+
			"one keeps its own. Rows with a known external_id update that record. FILE - reads stdin.\n"+
			"Rejected rows are written to FILE.rejects.csv with _row and _reason.\n\n"+
			"Exit code: 0 all rows imported, 2 some rows rejected, 1 nothing imported.\n\nflags:")
		fs.PrintDefaults()
	}
	var dbf dbFlags
	dbf.register(fs, e.getenv)
	rejectsPath := fs.String("rejects", "", "where to write rejected rows (default: FILE.rejects.csv beside the input)")
	geocode := fs.Bool("geocode", false, "place rows without lat/lon by geocoding their address")
	var buildGeocoder func(context.Context, env, *postgis.DB) (crm.Geocoder, error)
	if importGeocodeFlags != nil {
		buildGeocoder = importGeocodeFlags(fs, e.getenv)
	}
	args, err := importArgs(fs, e.args)
	if err != nil {
		return 2
	}
	if len(args) != 1 {
		fs.Usage()
		return 2
	}
	file := args[0]
	in, size, closeIn, err := openInput(file, e.stdin)
	if err != nil {
		return fail(e, err)
	}
	defer closeIn()
	rejects, err := newRejectsFile(file, rejectsPath)
	if err != nil {
		return fail(e, err)
	}
	defer rejects.Close()
	opt := crm.ImportOptions{KeepRejects: 5}
	if *geocode && buildGeocoder == nil {
		return fail(e, geo.Errorf(geo.EINVALID, "this gcrm cannot geocode yet: give every row lat and lon"))
	}
	db, closeDB, err := dbf.open(ctx, e)
	if err != nil {
		return fail(e, err)
	}
	defer closeDB()
	if *geocode {
		if opt.Geocoder, err = buildGeocoder(ctx, e, db); err != nil {
			return fail(e, err)
		}
	}

	opt.Rejects = rejects
	bar := newProgressBar(e.stderr, filepath.Base(file), size)
	opt.Progress = bar.update
	res, err := crm.NewStore(db).Import(ctx, in, opt)
	bar.done()
	if cerr := rejects.Close(); err == nil && cerr != nil {
		err = geo.Errorf(geo.EUNAVAILABLE, "cannot write %s: %v", *rejectsPath, cerr)
	}
	if err != nil {
		if rejects.created {
			_ = os.Remove(*rejectsPath) // nothing was imported: its rejects would mislead
		}
		return fail(e, err)
	}
	landed := res.Inserted + res.Updated + res.Unchanged
	fmt.Fprintf(e.stdout, "gcrm: %s: %s rows in %.1fs (%s rows/s): %s new, %s updated, %s unchanged, %s rejected\n",
		file, thousands(res.Rows), res.Duration.Seconds(), thousands(int64(float64(res.Rows)/max(res.Duration.Seconds(), 1e-9))),
		thousands(res.Inserted), thousands(res.Updated), thousands(res.Unchanged), thousands(res.Rejected))
	if res.Rejected > 0 {
		for _, r := range res.Rejects {
			fmt.Fprintf(e.stderr, "  %s\n", r.Reason)
		}
		if res.Rejected > int64(len(res.Rejects)) {
			fmt.Fprintf(e.stderr, "  … and %s more\n", thousands(res.Rejected-int64(len(res.Rejects))))
		}
		fmt.Fprintf(e.stderr, "gcrm: rejected rows, with _row and _reason, are in %s\n", *rejectsPath)
	}
	switch {
	case res.Rows == 0:
		fmt.Fprintln(e.stderr, "gcrm: the file has no data rows: nothing was imported")
		return 1
	case landed == 0:
		fmt.Fprintln(e.stderr, "gcrm: every row was rejected: nothing was imported")
		return 1
	case res.Rejected > 0:
		return 2
	}
	return 0
}

// importArgs parses flags that may come before or after the positional arguments
// ('gcrm import customers FILE --rejects X') and returns the positional ones.
func importArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// progressBar draws import progress on stderr: redrawn in place on a terminal, otherwise a
// plain line every few seconds (logs and CI stay readable).
type progressBar struct {
	mu       sync.Mutex
	w        io.Writer
	name     string
	size     int64
	tty      bool
	start    time.Time
	last     time.Time
	drawn    bool
	finished bool
}

func newProgressBar(w io.Writer, name string, size int64) *progressBar {
	tty := false
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			tty = true
		}
	}
	now := time.Now()
	return &progressBar{w: w, name: name, size: size, tty: tty, start: now, last: now}
}

func (p *progressBar) update(bytesRead, rows int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := time.Now()
	end := p.size > 0 && bytesRead >= p.size
	every := 5 * time.Second
	if p.tty {
		every = 100 * time.Millisecond
	}
	if now.Sub(p.last) < every && !end {
		return
	}
	p.last = now
	rate := float64(rows) / max(now.Sub(p.start).Seconds(), 1e-9)
	pct := ""
	bar := ""
	if p.size > 0 {
		f := min(float64(bytesRead)/float64(p.size), 1)
		pct = fmt.Sprintf(" %3.0f%%", f*100)
		n := int(f * 30)
		bar = " [" + strings.Repeat("#", n) + strings.Repeat("-", 30-n) + "]"
	}
	line := fmt.Sprintf("importing %s%s%s  %s rows  %s rows/s", p.name, bar, pct, thousands(rows), thousands(int64(rate)))
	if end {
		line += "  — writing to the database…"
	}
	if p.tty {
		fmt.Fprintf(p.w, "\r\033[K%s", line)
		p.drawn = true
	} else if !end || !p.finished {
		fmt.Fprintln(p.w, line)
	}
	if end {
		p.finished = true
	}
}

// done ends the bar's line on a terminal.
func (p *progressBar) done() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tty && p.drawn {
		fmt.Fprintln(p.w)
	}
}

// thousands formats n with thousands separators: 1234567 → 1,234,567.
func thousands(n int64) string {
	s := fmt.Sprint(n)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}
