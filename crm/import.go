package crm

import (
	"context"
	"encoding/binary"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gcrm/gcrm/geo"
	"github.com/gcrm/gcrm/geo/postgis"
	"github.com/jackc/pgx/v5"
	"github.com/paulmach/orb"
	"golang.org/x/sync/errgroup"
)

// ImportOptions tune Store.Import.
type ImportOptions struct {
	// Rejects receives every rejected row as CSV: the file's own columns, then _row and
	// _reason. Nothing is written when no row is rejected. Nil discards them (they are still
	// counted, and the first KeepRejects are listed in the result).
	Rejects io.Writer
	// KeepRejects is how many rejects ImportResult.Rejects lists (default 100; -1 none).
	KeepRejects int
	// Progress, when set, is called now and then (from another goroutine) with the bytes and
	// data rows read so far, and once at the end of the file.
	Progress func(bytesRead, rows int64)
	// Geocoder, when set, places rows that have no coordinates. A row it cannot place still
	// lands, without a location and with its geocode error; without a Geocoder such rows are
	// rejected.
	Geocoder Geocoder
	// Source is stored as the geocode source of rows whose coordinates the file gives
	// (default "import").
	Source string
}

// Address is what a Geocoder gets for a row without coordinates.
type Address struct {
	Street, City, Region, Postcode, Country string
}

// Geocoder places addresses for Import (see ImportOptions.Geocoder). It returns the point
// and how it was found, or an error whose message is stored as the row's geocode error.
type Geocoder interface {
	Geocode(ctx context.Context, a Address) (orb.Point, Geocode, error)
}

// GeocoderFunc adapts a function to Geocoder.
type GeocoderFunc func(ctx context.Context, a Address) (orb.Point, Geocode, error)

// Geocode calls f.
func (f GeocoderFunc) Geocode(ctx context.Context, a Address) (orb.Point, Geocode, error) {
	return f(ctx, a)
}

// Reject is one row that was not imported.
type Reject struct {
	Row    int64  `json:"row"`
	Reason string `json:"reason"`
}

// ImportResult says what an import did.
type ImportResult struct {
	Rows      int64         `json:"rows"`      // data rows read (the header not counted)
	Inserted  int64         `json:"inserted"`  // new records
	Updated   int64         `json:"updated"`   // existing records (same external_id) changed
	Unchanged int64         `json:"unchanged"` // existing records the file left as they were
	Rejected  int64         `json:"rejected"`  // rows not imported; see Rejects and the rejects CSV
	Rejects   []Reject      `json:"rejects"`   // the first KeepRejects rejects
	MaxRev    int64         `json:"max_rev"`   // highest customer rev written (0 if none)
	Bulk      bool          `json:"bulk"`      // the table was empty: rows were copied straight in, indexes rebuilt
	Duration  time.Duration `json:"duration_ns"`
	Phases    []ImportPhase `json:"phases"` // where the time went
}

// ImportPhase is the time one step of an import took: "read+copy" (parsing and COPY into
// the staging table, overlapped), "dedupe", "insert", "indexes" (bulk only); a bulk load
// by swap also has "commit" (of the new table's rows, before its indexes are built) and
// "swap".
type ImportPhase struct {
	Name     string        `json:"name"`
	Duration time.Duration `json:"duration_ns"`
}

func (r *ImportResult) phase(name string, since time.Time) time.Time {
	now := time.Now()
	r.Phases = append(r.Phases, ImportPhase{name, now.Sub(since)})
	return now
}

// Import loads customers from CSV text r in one transaction: every good row lands, every bad
// row is reported with its row number and reason (ImportOptions.Rejects), and a failure
// leaves the database as it was.
//
// The first row names the columns (external_id,name,kind,lat,lon,street,city,region,
// postcode,country,segment,status,owner,revenue,email,phone,consent_email,created_at, in any
// order, case-insensitive, with a few aliases such as latitude, lng, zip, created); other
// columns go to the record's attributes. created_at is a date (2024-03-15, midnight UTC) or
// an RFC 3339 timestamp (2024-03-15T10:20:00Z), at most a day ahead of now; blank, a new
// record gets the time of the import and an updated one keeps its own. A row whose
// external_id is already stored updates that record (its version and rev move on; only the
// file's columns change, attributes are merged); a row without external_id is always a new
// record. When an external_id appears twice in the file
// the first row wins and later ones are rejected.
//
// Memory stays constant for any file size: rows stream from the parser (validated on one
// goroutine per core, in file order) through a binary COPY into a staging table, duplicates
// are found there with SQL, and one INSERT … ON CONFLICT moves them into customers. Into an
// empty customers table (the first, big load) the rows are copied into a new table shaped
// like it, its indexes built side by side on other connections, and that table swapped in
// for customers (import_swap.go): writers of customers wait for the whole import, readers
// see the empty table until it commits (they wait only for the swap, a few milliseconds).
// Where the swap cannot carry everything of customers over (a view on it, say) the rows
// are copied straight into customers, truncated in the transaction and with most indexes
// dropped and built again at the end; readers then wait too.
//
// Returns EINVALID when the header makes the file unusable (no name column, lat without lon),
// EUNAVAILABLE when ctx ends, and wrapped database errors otherwise.
func (s *Store) Import(ctx context.Context, r io.Reader, opt ImportOptions) (res *ImportResult, err error) {
	start := time.Now()
	if opt.KeepRejects == 0 {
		opt.KeepRejects = 100
	}
	if opt.Source == "" {
		opt.Source = "import"
	}
	cr := newCSVReader(r)
	cols, err := cr.Read()
	if err != nil {
		var re *csvRowError
		switch {
		case errors.As(err, &re):
			return nil, geo.Errorf(geo.EINVALID, "the header row is broken: %s", re.Reason)
		case errors.Is(err, io.EOF):
			return nil, geo.Errorf(geo.EINVALID, "the file is empty: its first row must name the columns (external_id,name,kind,lat,lon,…)")
		}
		return nil, geo.Errorf(geo.EINVALID, "cannot read the file: %v", err)
	}
	h, err := mapHeader(cols)
	if err != nil {
		return nil, err
	}
	im := &importer{ctx: ctx, db: s.DB, opt: opt, h: h, cr: cr, res: &ImportResult{}}
	err = s.DB.WithTx(ctx, func(tx pgx.Tx) error { return im.run(tx) })
	if err != nil {
		if ctx.Err() != nil {
			return nil, geo.Errorf(geo.EUNAVAILABLE, "the import was cancelled; nothing was imported")
		}
		return nil, postgis.Wrap(err)
	}
	if err := im.flushRejects(); err != nil {
		return nil, err
	}
	im.res.Duration = time.Since(start)
	return im.res, nil
}

// importer is the state of one Import.
type importer struct {
	ctx context.Context
	db  *postgis.DB
	opt ImportOptions
	h   *importHeader
	cr  *csvReader
	res *ImportResult

	workers  int // goroutines validating rows (0: one per core)
	rejects  *csv.Writer
	rejRec   []string
	staged   int64
	lastRow  int64 // row number of the last staged row
	ids      *idFilter
	maybeDup bool

	// direct: the table was empty, so rows are copied straight into it or into the
	// table swapped in for it (bulk load): each row's id and rev are base + its row number.
	direct          bool
	tupleFields     int    // the fields of a COPY tuple: as many as the columns it fills
	bulkTable       string // the table a bulk load copies into: customers or swap.stage
	swap            *bulkSwap
	baseID, baseRev int64

	// now is the transaction's now() when the file has a created_at column: a bulk load's
	// blank created_at (COPY cannot fall back to the column default per row), and the limit
	// (a day later) of a creation date.
	now time.Time
}

// stageTable is the staging table's columns; a file with created_at adds the column
// (createStage).
const stageTable = `row_no bigint NOT NULL, external_id text, kind text NOT NULL, name text NOT NULL,
	street text NOT NULL, city text NOT NULL, region text NOT NULL, postcode text NOT NULL,
	country text NOT NULL, lon float8, lat float8, h3 bigint, segment text NOT NULL,
	status text NOT NULL, owner text NOT NULL, revenue numeric NOT NULL, email text NOT NULL,
	phone text NOT NULL, consent_email boolean NOT NULL, attributes jsonb,
	geocode_precision text NOT NULL, geocode_confidence real NOT NULL,
	geocode_source text NOT NULL, geocode_error text NOT NULL`

// stageColumns are the staging columns as they are copied, in order (created_at follows
// when the file has it: stageCopyColumns).
var stageColumns = []string{"row_no", "external_id", "kind", "name", "street", "city", "region", "postcode", "country",
	"lon", "lat", "h3", "segment", "status", "owner", "revenue", "email", "phone", "consent_email", "attributes",
	"geocode_precision", "geocode_confidence", "geocode_source", "geocode_error"}

// createStage creates the staging table. Only a file with a created_at column stages one:
// a file without copies exactly what it did before the column existed. A blank created_at
// is staged as NULL (upsertSQL says what it becomes).
func (im *importer) createStage() string {
	cols := stageTable
	if im.h.has(fCreatedAt) {
		cols += `, created_at timestamptz`
	}
	return `CREATE TEMP TABLE import_stage (` + cols + `) ON COMMIT DROP`
}

// stageCopyColumns are the staging columns a COPY fills, in order.
func (im *importer) stageCopyColumns() []string {
	if im.h.has(fCreatedAt) {
		return append(slices.Clip(stageColumns), "created_at")
	}
	return stageColumns
}

// directColumns are the customers columns a bulk load copies, in order. txid is left to
// its default, txid_current(): the one transaction's id for every row (a stable function,
// so COPY still inserts in batches). attributes are left out (every row gets the column
// default, an empty JSON object) when the file has no attribute column; the geocode columns
// when there is no geocoder: every row's is then the file's point (see geocodeDefaults);
// created_at when the file has no such column (every row gets now()).
// The server then neither reads nor checks them.
func (im *importer) directColumns() []string {
	cols := []string{"id", "rev", "external_id", "kind", "name", "street", "city", "region", "postcode",
		"country", "geom", "h3", "segment", "status", "owner", "revenue", "email", "phone", "consent_email"}
	if im.copyAttrs() {
		cols = append(cols, "attributes")
	}
	if im.copyGeocode() {
		cols = append(cols, "geocode_precision", "geocode_confidence", "geocode_source", "geocode_error")
	}
	if im.h.has(fCreatedAt) {
		cols = append(cols, "created_at")
	}
	return cols
}

func (im *importer) copyAttrs() bool   { return !im.direct || len(im.h.attrs) > 0 }
func (im *importer) copyGeocode() bool { return !im.direct || im.opt.Geocoder != nil }

// geocodeDefaults selects two statements: one that makes a bulk load's geocode (precision
// given, confidence 1, the Source option $1, no error) the defaults of the customers geocode
// columns, so COPY can leave them out, and one that gives the columns their own defaults
// back (run before the indexes are built, in the same transaction: nobody else sees the
// table meanwhile). $2 is the table (customers, or the table a swap loads).
const geocodeDefaults = `SELECT 'ALTER TABLE ' || $2 || ' ' || string_agg(format('ALTER COLUMN %I SET DEFAULT %s', a.attname, v.val), ', '),
		'ALTER TABLE ' || $2 || ' ' || string_agg(format('ALTER COLUMN %I %s', a.attname,
			coalesce('SET DEFAULT ' || pg_get_expr(d.adbin, d.adrelid), 'DROP DEFAULT')), ', ')
	FROM (VALUES ('geocode_precision', quote_literal('given')), ('geocode_confidence', '1'),
		('geocode_source', quote_literal($1::text)), ('geocode_error', quote_literal(''))) v (col, val)
	JOIN pg_attribute a ON a.attrelid = $2::text::regclass AND a.attname = v.col
	LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum`

func (im *importer) run(tx pgx.Tx) error {
	ctx := im.ctx
	// One import decides on the bulk load at a time (two could otherwise both see the table
	// empty and deadlock upgrading their locks).
	if _, err := tx.Exec(ctx, `SET LOCAL work_mem = '256MB'; SELECT pg_advisory_xact_lock(7262004)`); err != nil {
		return err
	}
	if im.h.has(fCreatedAt) {
		if err := tx.QueryRow(ctx, `SELECT now()`).Scan(&im.now); err != nil {
			return err
		}
	}
	restore, err := im.prepareBulk(tx)
	if err != nil {
		return err
	}
	if im.swap != nil {
		err := im.runSwap(tx)
		if !errors.Is(err, errSwapRefused) {
			return err
		}
		im.swap = nil
		if restore, err = im.prepareInPlace(tx); err != nil {
			return err
		}
	}
	table, cols := "customers", im.directColumns()
	if !im.direct {
		if _, err := tx.Exec(ctx, im.createStage()); err != nil {
			return err
		}
		table, cols = "import_stage", im.stageCopyColumns()
	}
	target := table + ` (` + strings.Join(cols, ", ") + `)`
	im.tupleFields = len(cols)
	t := time.Now()
	if err := im.copyRows(tx, `COPY `+target+` FROM STDIN (FORMAT binary)`); err != nil {
		return err
	}
	t = im.res.phase("read+copy", t)
	if im.direct {
		return im.finishBulk(tx, restore, t)
	}
	if im.maybeDup {
		if err := im.dedupe(tx); err != nil {
			return err
		}
		t = im.res.phase("dedupe", t)
	}
	if im.staged == 0 {
		return nil
	}
	if err := tx.QueryRow(ctx, im.upsertSQL()).Scan(&im.res.Inserted, &im.res.Updated, &im.res.MaxRev); err != nil {
		return err
	}
	im.res.Unchanged = im.staged - im.res.Inserted - im.res.Updated
	if err := im.refreshFeed(tx, im.res.Inserted+im.res.Updated); err != nil {
		return err
	}
	im.res.phase("insert", t)
	return nil
}

// copyRows streams the file's rows through copySQL in tx: parsed in other goroutines (see
// produce), copied in this one; the two overlap (and the server works on its own core
// meanwhile).
func (im *importer) copyRows(tx pgx.Tx, copySQL string) error {
	ctx := im.ctx
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := im.produce(pw)
		pw.CloseWithError(err)
		done <- err
	}()
	_, copyErr := tx.Conn().PgConn().CopyFrom(ctx, pr, copySQL)
	pr.CloseWithError(errCopyEnded) // unblock the producer if COPY failed first
	perr := <-done
	if perr != nil && !errors.Is(perr, errCopyEnded) {
		return perr
	}
	if copyErr != nil {
		return copyErr
	}
	return perr
}

// finishBulk ends a bulk load: later rows repeating an external_id go, the sequences move
// past the ids and revs used, and the indexes are built again.
func (im *importer) finishBulk(tx pgx.Tx, restore []string, t time.Time) error {
	ctx := im.ctx
	t, err := im.endLoad(tx, tx, t)
	if err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `SET LOCAL maintenance_work_mem = '512MB'`); err != nil {
		return err
	}
	for _, sql := range restore {
		if _, err := tx.Exec(ctx, sql); err != nil {
			return err
		}
	}
	if err := im.refreshFeed(tx, im.staged); err != nil {
		return err
	}
	im.res.phase("indexes", t)
	return nil
}

// endLoad ends the COPY of a bulk load in tx (the transaction that copied): later rows
// repeating an external_id go and the sequences move past the ids and revs used (in lt,
// the transaction holding customers locked). It returns the time the phase ended.
func (im *importer) endLoad(tx, lt pgx.Tx, t time.Time) (time.Time, error) {
	if im.maybeDup {
		if err := im.dedupe(tx); err != nil {
			return t, err
		}
		t = im.res.phase("dedupe", t)
	}
	im.res.Inserted = im.staged
	if im.lastRow > 0 {
		if _, err := lt.Exec(im.ctx, `SELECT setval(pg_get_serial_sequence('customers', 'id'), $1), setval('customer_rev', $2)`,
			im.baseID+im.lastRow, im.baseRev+im.lastRow); err != nil {
			return t, err
		}
		if im.staged > 0 {
			im.res.MaxRev = im.baseRev + im.lastRow
			// The last row may have been a repeat. id and rev both grow with the row number
			// here (the highest id kept has the highest rev).
			if im.res.Rejected > 0 && im.maybeDup {
				if err := tx.QueryRow(im.ctx, `SELECT rev FROM `+im.bulkTable+` ORDER BY id DESC LIMIT 1`).Scan(&im.res.MaxRev); err != nil {
					return t, err
				}
			}
		}
	}
	return t, nil
}

// refreshFeed keeps the change feed's BRIN index on (rev, txid) effective after an import
// that wrote (inserted or changed) more than a tenth of the table, autoanalyze's own
// default threshold; rows written by fewer are left to autovacuum. The planner picks the
// index for "txid >= $1" and "rev > $1" only when it knows how these columns lie in the
// table (their correlation): without statistics, as after a bulk load into the truncated
// table, every poll of the feed would read the whole table until autovacuum analysed it. A
// small sample of the two columns suffices (25 ms for 1 M rows, 0.2 s at the default
// target); autovacuum still analyses the whole table later (a column list does not reset
// its count of changed rows). And every poll reads the ranges of pages the index has not
// summarized yet: the upsert's new rows until autovacuum gets to them (autosummarize asks
// it for at most a few hundred ranges at a time), so they are summarized here (0.15 s per
// 400 k rows). Both need the table's owner; another role leaves them to autovacuum.
func (im *importer) refreshFeed(tx pgx.Tx, written int64) error {
	var rows float64
	var owner bool
	if err := tx.QueryRow(im.ctx, `SELECT reltuples, pg_has_role(relowner, 'USAGE') FROM pg_class WHERE oid = 'customers'::regclass`).Scan(&rows, &owner); err != nil {
		return err
	}
	if !owner || (rows >= 0 && float64(written) <= rows/10) { // rows -1: never counted (new or truncated)
		return nil
	}
	_, err := tx.Exec(im.ctx, `SET LOCAL default_statistics_target = 10; ANALYZE customers (rev, txid);
		SELECT brin_summarize_new_values('customers_feed_idx')`)
	return err
}

var errCopyEnded = errors.New("crm: COPY ended before the file did")

// importBatch is a run of rows on their way from the CSV reader through a worker (which
// validates them and encodes the good ones) to COPY.
type importBatch struct {
	rows   []batchRow
	fields []string // the records, one after another
	out    []byte   // the staged rows' COPY tuples, in row order
	attrs  []byte   // the worker's scratch
	done   chan struct{}
}

// batchRow is one record of a batch: fields[start:end], and what the worker made of it.
type batchRow struct {
	row        int64
	start, end int
	reason     string // why it is rejected ("" = staged)
	extID      string
}

// batchRows is the size of a batch: large enough that handing batches between goroutines
// costs nothing per row, small enough that memory stays a few MB whatever the file.
const batchRows = 512

// produce reads every data row, rejects the bad ones and writes the good ones to w in COPY
// binary format, in file order. Validation, H3 and encoding run on im.workers goroutines
// (default one per core; one with a Geocoder, which need not be safe for concurrent use):
// one goroutine reads the CSV into batches, the workers fill them in any order, and this
// goroutine writes them in the order they were read, so row numbers, rejects and the
// duplicate check are the same as with a single worker. A fixed set of batches circulates,
// so memory stays constant.
func (im *importer) produce(w io.Writer) error {
	workers := im.workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	if im.opt.Geocoder != nil {
		workers = 1
	}
	nbatches := 4 * workers
	free := make(chan *importBatch, nbatches)
	for range nbatches {
		free <- &importBatch{}
	}
	work, order := make(chan *importBatch, nbatches), make(chan *importBatch, nbatches)
	g, ctx := errgroup.WithContext(im.ctx)
	g.Go(func() error { return im.read(ctx, free, work, order) })
	for range workers {
		g.Go(func() error {
			for b := range work {
				for i := range b.rows {
					r := &b.rows[i]
					if r.reason == "" {
						b.out, b.attrs, r.extID, r.reason = im.stageRow(b.out, b.attrs, r.row, b.fields[r.start:r.end])
					}
				}
				close(b.done)
			}
			return nil
		})
	}
	g.Go(func() error {
		// Each batch's tuples go to w in one write, without a buffer between: through the
		// pipe to COPY they are copied once, into the connection's buffer.
		if _, err := w.Write(copyBinaryHeader); err != nil {
			return err
		}
		for b := range order {
			select {
			case <-b.done:
			case <-ctx.Done():
				return ctx.Err()
			}
			for _, r := range b.rows {
				if r.reason != "" {
					if err := im.reject(r.row, r.reason, b.fields[r.start:r.end]); err != nil {
						return err
					}
					continue
				}
				im.staged++
				im.lastRow = r.row
				if r.extID != "" && !im.maybeDup { // after one alarm the SQL pass runs anyway
					if im.ids == nil {
						im.ids = newIDFilter()
					}
					im.maybeDup = im.ids.add(r.extID)
				}
			}
			if _, err := w.Write(b.out); err != nil {
				return err
			}
			free <- b
		}
		if err := ctx.Err(); err != nil { // the reader failed: the stream must not end well
			return err
		}
		_, err := w.Write(copyBinaryTrailer)
		return err
	})
	return g.Wait()
}

// read fills batches with the file's records, in order, and hands each to the workers and
// to the writer.
func (im *importer) read(ctx context.Context, free <-chan *importBatch, work, order chan<- *importBatch) error {
	defer close(work)
	defer close(order)
	for {
		var b *importBatch
		select {
		case b = <-free:
		case <-ctx.Done():
			return ctx.Err()
		}
		b.rows, b.fields, b.out, b.done = b.rows[:0], b.fields[:0], b.out[:0], make(chan struct{})
		add := func(row int64, rec []string, reason string) {
			b.rows = append(b.rows, batchRow{row: row, start: len(b.fields), end: len(b.fields) + len(rec), reason: reason})
			b.fields = append(b.fields, rec...)
		}
		eof := false
		for len(b.rows) < batchRows {
			rec, err := im.cr.Read()
			if errors.Is(err, io.EOF) {
				eof = true
				break
			}
			im.res.Rows++
			if err != nil {
				var re *csvRowError
				if !errors.As(err, &re) {
					return geo.Errorf(geo.EINVALID, "cannot read the file after row %d: %v", im.cr.row, err)
				}
				add(re.Row, []string{string(re.Raw)}, fmt.Sprintf("row %d: %s", re.Row, re.Reason))
				continue
			}
			if im.opt.Progress != nil && im.res.Rows%8192 == 0 {
				im.opt.Progress(im.cr.bytesRead, im.res.Rows)
			}
			add(im.cr.row, rec, "")
		}
		work <- b // both have room for every batch: neither send blocks
		order <- b
		if eof {
			if im.opt.Progress != nil {
				im.opt.Progress(im.cr.bytesRead, im.res.Rows)
			}
			return nil
		}
	}
}

// stageRow validates one record and appends its COPY tuple to b, returning its external id.
// It returns a reason (starting with "row N: ") instead when the row must be rejected. It
// only reads im, so workers call it concurrently (attrs is each worker's scratch).
func (im *importer) stageRow(b, attrs []byte, row int64, rec []string) ([]byte, []byte, string, string) {
	h := im.h
	if len(rec) != len(h.names) {
		return b, attrs, "", fmt.Sprintf("row %d: has %d fields but the header has %d (a comma too many or too few, or broken quoting)", row, len(rec), len(h.names))
	}
	get := func(f importField) string {
		if c := h.colOf[f]; c >= 0 {
			return strings.TrimSpace(rec[c])
		}
		return ""
	}
	fail := func(format string, args ...any) ([]byte, []byte, string, string) {
		return b, attrs, "", fmt.Sprintf("row %d: ", row) + fmt.Sprintf(format, args...)
	}
	extID, name := get(fExternalID), get(fName)
	kind := strings.ToLower(get(fKind))
	if kind == "" {
		kind = KindCustomer
	}
	if name == "" {
		return fail("name is empty; every record needs a name")
	}
	if KindCode(kind) < 0 {
		return fail("kind %s is not one of customer, prospect, lead", quoteValue(get(fKind)))
	}
	revenue := 0.0
	if v := get(fRevenue); v != "" {
		var err error
		revenue, err = strconv.ParseFloat(v, 64)
		if err != nil || math.IsNaN(revenue) || math.IsInf(revenue, 0) {
			return fail("revenue %s is not a number (write it like 1234.50, without currency or thousands separators)", quoteValue(v))
		}
		if math.Abs(revenue) >= 1e13 {
			return fail("revenue %s is out of range (at most ±10,000,000,000,000)", quoteValue(v))
		}
	}
	email := get(fEmail)
	if email != "" && !validEmail(email) {
		return fail("email %s is not an e-mail address", quoteValue(email))
	}
	consent, ok := parseConsent(get(fConsentEmail))
	if !ok {
		return fail("consent_email %s is not yes or no (use true/false, yes/no or 1/0)", quoteValue(get(fConsentEmail)))
	}
	var created time.Time // zero: blank
	if v := get(fCreatedAt); v != "" {
		if created, ok = parseCreatedAt(v); !ok {
			return fail("created_at %s is not a date (write it like 2024-03-15, or with a time and offset like 2024-03-15T10:20:00Z)", quoteValue(v))
		}
		if created.After(im.now.Add(24 * time.Hour)) {
			return fail("created_at %s is in the future; a creation date must be today or earlier", quoteValue(v))
		}
		if created.Year() < 1900 {
			return fail("created_at %s is before 1900; check the year (a creation date lies between 1900 and today)", quoteValue(v))
		}
	}
	var lon, lat float64
	var gc Geocode
	located := false
	latS, lonS := get(fLat), get(fLon)
	switch {
	case latS == "" && lonS == "":
		if im.opt.Geocoder == nil {
			return fail("no coordinates (lat/lon): add them or import with --geocode")
		}
		p, g, err := im.opt.Geocoder.Geocode(im.ctx, Address{Street: get(fStreet), City: get(fCity), Region: get(fRegion), Postcode: get(fPostcode), Country: get(fCountry)})
		if err != nil {
			gc = Geocode{Error: geo.ErrorMessage(err)}
			if gc.Error == "" || gc.Error == "internal error" {
				gc.Error = "the address could not be geocoded"
			}
			break
		}
		if !geo.ValidLonLat(p[0], p[1]) {
			gc = Geocode{Error: "the geocoder returned a point outside the world"}
			break
		}
		lon, lat, gc, located = p[0], p[1], g, true
	case latS == "":
		return fail("lat is empty but lon is %s; give both or neither", quoteValue(lonS))
	case lonS == "":
		return fail("lon is empty but lat is %s; give both or neither", quoteValue(latS))
	default:
		var err error
		if lat, err = strconv.ParseFloat(latS, 64); err != nil || math.IsNaN(lat) {
			return fail("lat %s is not a number (use a point as the decimal separator, e.g. 52.52)", quoteValue(latS))
		}
		if lon, err = strconv.ParseFloat(lonS, 64); err != nil || math.IsNaN(lon) {
			return fail("lon %s is not a number (use a point as the decimal separator, e.g. 13.40)", quoteValue(lonS))
		}
		if lat < -90 || lat > 90 {
			return fail("lat %s is outside -90..90 (are lat and lon swapped?)", latS)
		}
		if lon < -180 || lon > 180 {
			return fail("lon %s is outside -180..180", lonS)
		}
		located, gc = true, Geocode{Precision: "given", Confidence: 1, Source: im.opt.Source}
	}
	attrs = attrs[:0]
	for _, c := range h.attrs {
		v := strings.TrimSpace(rec[c])
		if v == "" {
			continue
		}
		if len(attrs) == 0 {
			attrs = append(attrs, '{')
		} else {
			attrs = append(attrs, ',')
		}
		attrs = appendJSONString(attrs, h.keys[c])
		attrs = append(attrs, ':')
		attrs = appendJSONString(attrs, v)
	}
	if len(attrs) > 0 {
		attrs = append(attrs, '}')
	}

	// One tuple in COPY's binary format: no text to format here or to parse on the server.
	b = binary.BigEndian.AppendUint16(b, uint16(im.tupleFields))
	if im.direct {
		b = appendBinaryInt8(b, im.baseID+row)
		b = appendBinaryInt8(b, im.baseRev+row)
	} else {
		b = appendBinaryInt8(b, row)
	}
	if extID == "" {
		b = appendBinaryNull(b)
	} else {
		b = appendBinaryText(b, extID)
	}
	b = appendBinaryText(b, kind)
	b = appendBinaryText(b, name)
	b = appendBinaryText(b, get(fStreet))
	b = appendBinaryText(b, get(fCity))
	b = appendBinaryText(b, get(fRegion))
	b = appendBinaryText(b, get(fPostcode))
	b = appendBinaryText(b, get(fCountry))
	switch {
	case located && im.direct:
		b = postgis.AppendPoint(binary.BigEndian.AppendUint32(b, postgis.EWKBPointLen), lon, lat)
		b = appendBinaryInt8(b, int64(geo.CellOf(orb.Point{lon, lat}, geo.CellResolution)))
	case located:
		b = appendBinaryFloat8(b, lon)
		b = appendBinaryFloat8(b, lat)
		b = appendBinaryInt8(b, int64(geo.CellOf(orb.Point{lon, lat}, geo.CellResolution)))
	case im.direct:
		b = appendBinaryNull(appendBinaryNull(b))
	default:
		b = appendBinaryNull(appendBinaryNull(appendBinaryNull(b)))
	}
	b = appendBinaryText(b, get(fSegment))
	b = appendBinaryText(b, get(fStatus))
	b = appendBinaryText(b, get(fOwner))
	b = appendBinaryNumeric(b, revenue)
	b = appendBinaryText(b, email)
	b = appendBinaryText(b, get(fPhone))
	b = appendBinaryBool(b, consent)
	switch {
	case !im.copyAttrs():
	case len(attrs) == 0 && im.direct:
		b = appendBinaryJSONB(b, []byte("{}"))
	case len(attrs) == 0:
		b = appendBinaryNull(b)
	default:
		b = appendBinaryJSONB(b, attrs)
	}
	if im.copyGeocode() {
		b = appendBinaryText(b, gc.Precision)
		b = appendBinaryFloat4(b, float32(gc.Confidence))
		b = appendBinaryText(b, gc.Source)
		b = appendBinaryText(b, gc.Error)
	}
	switch {
	case !h.has(fCreatedAt):
	case created.IsZero() && im.direct:
		b = appendBinaryTimestamptz(b, im.now)
	case created.IsZero():
		b = appendBinaryNull(b)
	default:
		b = appendBinaryTimestamptz(b, created)
	}
	return b, attrs, extID, ""
}

// reject counts a rejected row and writes it to the rejects CSV.
func (im *importer) reject(row int64, reason string, rec []string) error {
	im.res.Rejected++
	if im.opt.KeepRejects > 0 && len(im.res.Rejects) < im.opt.KeepRejects {
		im.res.Rejects = append(im.res.Rejects, Reject{Row: row, Reason: reason})
	}
	if im.opt.Rejects == nil {
		return nil
	}
	if im.rejects == nil {
		im.rejects = csv.NewWriter(im.opt.Rejects)
		if err := im.rejects.Write(append(append([]string(nil), im.h.names...), "_row", "_reason")); err != nil {
			return geo.Errorf(geo.EUNAVAILABLE, "cannot write the rejects file: %v", err)
		}
	}
	im.rejRec = im.rejRec[:0]
	for i := range im.h.names {
		v := ""
		if i < len(rec) {
			v = rec[i]
		}
		im.rejRec = append(im.rejRec, v)
	}
	for i := len(im.h.names); i < len(rec); i++ { // fields beyond the header: keep them in the last column
		im.rejRec[len(im.rejRec)-1] += "," + rec[i]
	}
	im.rejRec = append(im.rejRec, strconv.FormatInt(row, 10), reason)
	if err := im.rejects.Write(im.rejRec); err != nil {
		return geo.Errorf(geo.EUNAVAILABLE, "cannot write the rejects file: %v", err)
	}
	return nil
}

func (im *importer) flushRejects() error {
	if im.rejects == nil {
		return nil
	}
	im.rejects.Flush()
	if err := im.rejects.Error(); err != nil {
		return geo.Errorf(geo.EUNAVAILABLE, "cannot write the rejects file: %v", err)
	}
	return nil
}

// dedupe rejects every staged row whose external_id an earlier row of the file has, keeping
// the first. It runs only when the ID filter saw a possible repeat.
func (im *importer) dedupe(tx pgx.Tx) error {
	ctx := im.ctx
	// In a bulk load the rows are in customers already, their ids being base + row number.
	table, rowNo, lat, lon, del := `import_stage`, `s.row_no`, `s.lat`, `s.lon`,
		`DELETE FROM import_stage s USING import_dups d WHERE s.row_no = d.row_no`
	if im.direct {
		table, rowNo, lat, lon, del = im.bulkTable, `(s.id - `+strconv.FormatInt(im.baseID, 10)+`)`, `ST_Y(s.geom)`, `ST_X(s.geom)`,
			`DELETE FROM `+im.bulkTable+` s USING import_dups d WHERE s.id - `+strconv.FormatInt(im.baseID, 10)+` = d.row_no`
	}
	if _, err := tx.Exec(ctx, `CREATE TEMP TABLE import_dups ON COMMIT DROP AS
		SELECT row_no, first_row FROM (
			SELECT `+rowNo+` AS row_no, min(`+rowNo+`) OVER (PARTITION BY external_id) AS first_row
			FROM `+table+` s WHERE external_id IS NOT NULL) d
		WHERE row_no <> first_row`); err != nil {
		return err
	}
	created := `NULL::timestamptz`
	if im.h.has(fCreatedAt) {
		created = `s.created_at`
	}
	rows, err := tx.Query(ctx, `SELECT d.row_no, d.first_row, s.external_id, s.kind, s.name, s.street, s.city,
			s.region, s.postcode, s.country, `+lat+`, `+lon+`, s.segment, s.status, s.owner, s.revenue::text,
			s.email, s.phone, s.consent_email, coalesce(s.attributes, '{}'), `+created+`
		FROM import_dups d JOIN `+table+` s ON `+rowNo+` = d.row_no ORDER BY d.row_no`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var row, first int64
		var v [numImportFields]string
		var lat, lon *float64
		var consent bool
		var attrs map[string]any
		var createdAt *time.Time
		if err := rows.Scan(&row, &first, &v[fExternalID], &v[fKind], &v[fName], &v[fStreet], &v[fCity],
			&v[fRegion], &v[fPostcode], &v[fCountry], &lat, &lon, &v[fSegment], &v[fStatus], &v[fOwner],
			&v[fRevenue], &v[fEmail], &v[fPhone], &consent, &attrs, &createdAt); err != nil {
			return err
		}
		if createdAt != nil {
			v[fCreatedAt] = createdAt.UTC().Format(time.RFC3339)
		}
		if lat != nil && lon != nil {
			v[fLat], v[fLon] = strconv.FormatFloat(*lat, 'g', -1, 64), strconv.FormatFloat(*lon, 'g', -1, 64)
		}
		v[fConsentEmail] = strconv.FormatBool(consent)
		// Rebuild the row in the file's column order from what was staged (values trimmed).
		rec := make([]string, len(im.h.names))
		for i, f := range im.h.fieldOf {
			if f >= 0 {
				rec[i] = v[f]
			} else if a, ok := attrs[im.h.keys[i]].(string); ok {
				rec[i] = a
			}
		}
		reason := fmt.Sprintf("row %d: external_id %s already appears in row %d; the first row was imported", row, quoteValue(v[fExternalID]), first)
		if err := im.reject(row, reason, rec); err != nil {
			return err
		}
		im.staged--
	}
	if err := rows.Err(); err != nil {
		return err
	}
	_, err = tx.Exec(ctx, del)
	return err
}

// prepareBulk makes the import a bulk load when the customers table is empty: it locks
// the table against writers (readers go on) and takes the bases of the ids and revs
// (nobody else can take ids or revs while the table is locked, as every writer of customers
// and customer_deletions writes customers first). Then, when customers can be swapped
// (planSwap), the load goes into a table built beside it (runSwap); otherwise it is copied
// into customers itself (prepareInPlace), and prepareBulk returns the statements that
// finish that.
func (im *importer) prepareBulk(tx pgx.Tx) ([]string, error) {
	ctx := im.ctx
	var empty bool
	if err := tx.QueryRow(ctx, `SELECT NOT EXISTS (SELECT 1 FROM customers)`).Scan(&empty); err != nil || !empty {
		return nil, err
	}
	if _, err := tx.Exec(ctx, `LOCK TABLE customers IN EXCLUSIVE MODE`); err != nil {
		return nil, err
	}
	if err := tx.QueryRow(ctx, `SELECT NOT EXISTS (SELECT 1 FROM customers)`).Scan(&empty); err != nil || !empty {
		return nil, err
	}
	sw, err := im.planSwap(tx)
	if err != nil {
		return nil, err
	}
	// txid_current: a swap's rows carry the id of the transaction that copies them, which
	// must start after this one has its own (see import_swap.go).
	if err := tx.QueryRow(ctx, `SELECT nextval(pg_get_serial_sequence('customers', 'id')), nextval('customer_rev'), txid_current()`).Scan(
		&im.baseID, &im.baseRev, new(int64)); err != nil {
		return nil, err
	}
	im.direct, im.res.Bulk = true, true
	if sw != nil {
		im.swap, im.bulkTable = sw, sw.stage
		return nil, nil
	}
	return im.prepareInPlace(tx)
}

// prepareInPlace readies customers for a bulk load into itself: it locks the table against
// readers too, drops every index but the primary key and those another table's constraint
// needs, and returns the statements that build the indexes again (and give the geocode
// columns their own defaults back, see geocodeDefaults): one sorted build per index is much
// cheaper than an index insertion per row. That holds for the feed's BRIN index too: kept
// through COPY it still costs a revmap lookup per row (COPY +0.4 s for 1 M rows) and leaves
// the new ranges unsummarized, for every poll of the feed to read until summarized
// (brin_summarize_new_values: 1.1 s); built afterwards it is one table scan (0.3 s) and
// summarizes every range.
func (im *importer) prepareInPlace(tx pgx.Tx) ([]string, error) {
	ctx := im.ctx
	im.bulkTable = "customers"
	// Truncating the empty table gives it new files in this transaction: with wal_level=minimal
	// COPY then writes no WAL for its rows or its primary key (the files are synced at commit),
	// which halves the server's CPU for the load. No sequence is reset. A role without the
	// TRUNCATE privilege loads with WAL.
	// The sync at commit then waits for every page of the table to reach the disk (0.4–0.7 s
	// for 1 M rows): backend_flush_after has the kernel start writing the table's pages while
	// COPY is still filling it, so the commit finds most of them written.
	if _, err := tx.Exec(ctx, `LOCK TABLE customers IN ACCESS EXCLUSIVE MODE; DO $$ BEGIN
		IF has_table_privilege('customers', 'TRUNCATE') THEN TRUNCATE customers; END IF; END $$;
		SET LOCAL backend_flush_after = '1MB'`); err != nil {
		return nil, err
	}
	rows, err := tx.Query(ctx, `
		SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid), con.conname, pg_get_constraintdef(con.oid)
		FROM pg_index i
		LEFT JOIN pg_constraint con ON con.conindid = i.indexrelid AND con.conrelid = i.indrelid
		WHERE i.indrelid = 'customers'::regclass AND NOT i.indisprimary
		  AND (con.oid IS NULL OR (con.contype = 'u' AND NOT EXISTS (
			SELECT 1 FROM pg_constraint f WHERE f.contype = 'f' AND f.conindid = i.indexrelid)))`)
	if err != nil {
		return nil, err
	}
	type index struct {
		name, def   string
		con, condef *string
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (index, error) {
		var x index
		return x, r.Scan(&x.name, &x.def, &x.con, &x.condef)
	})
	if err != nil {
		return nil, err
	}
	var restore []string
	for _, x := range list {
		drop := `DROP INDEX ` + x.name
		if x.con != nil {
			con := pgx.Identifier{*x.con}.Sanitize()
			drop = `ALTER TABLE customers DROP CONSTRAINT ` + con
			restore = append(restore, `ALTER TABLE customers ADD CONSTRAINT `+con+` `+*x.condef)
		} else {
			restore = append(restore, x.def)
		}
		if _, err := tx.Exec(ctx, drop); err != nil {
			return nil, err
		}
	}
	undo, err := im.setGeocodeDefaults(tx, "customers")
	if err != nil {
		return nil, err
	}
	if undo != "" {
		restore = append([]string{undo}, restore...)
	}
	return restore, nil
}

// setGeocodeDefaults makes a bulk load's geocode the defaults of table's geocode columns
// when there is no geocoder (see geocodeDefaults), and returns the statement that gives
// them their own back ("" when nothing was changed).
func (im *importer) setGeocodeDefaults(tx pgx.Tx, table string) (string, error) {
	if im.opt.Geocoder != nil {
		return "", nil
	}
	var set, undo string
	if err := tx.QueryRow(im.ctx, geocodeDefaults, im.opt.Source, table).Scan(&set, &undo); err != nil {
		return "", err
	}
	if _, err := tx.Exec(im.ctx, set); err != nil {
		return "", err
	}
	return undo, nil
}

// importColumns are the customers columns the upsert may set from the file, by field.
var importColumns = map[importField]string{
	fKind: "kind", fName: "name", fStreet: "street", fCity: "city", fRegion: "region",
	fPostcode: "postcode", fCountry: "country", fSegment: "segment", fStatus: "status",
	fOwner: "owner", fRevenue: "revenue", fEmail: "email", fPhone: "phone", fConsentEmail: "consent_email",
	fCreatedAt: "created_at",
}

// upsertSQL inserts the staged rows; a row whose external_id exists updates that record's
// columns the file has (location and geocode always; attributes merged) when something
// differs. A blank created_at (NULL in the stage) is the record's own when it exists, so
// the update keeps it, else now().
func (im *importer) upsertSQL() string {
	createdCol, created := "", ""
	if im.h.has(fCreatedAt) {
		createdCol = ", created_at"
		created = `, coalesce(s.created_at, (SELECT created_at FROM customers o WHERE o.external_id = s.external_id), now())`
	}
	insert := `INSERT INTO customers AS c (external_id, kind, name, street, city, region, postcode, country,
			geom, h3, segment, status, owner, revenue, email, phone, consent_email, attributes,
			geocode_precision, geocode_confidence, geocode_source, geocode_error` + createdCol + `)
		SELECT external_id, kind, name, street, city, region, postcode, country,
			CASE WHEN lon IS NULL THEN NULL ELSE ST_SetSRID(ST_MakePoint(lon, lat), 4326) END, h3,
			segment, status, owner, revenue, email, phone, consent_email, coalesce(attributes, '{}'),
			geocode_precision, geocode_confidence, geocode_source, geocode_error` + created + `
		FROM import_stage s`
	{
		set := []string{"geom", "h3", "geocode_precision", "geocode_confidence", "geocode_source", "geocode_error"}
		for f := importField(0); f < numImportFields; f++ {
			if col, ok := importColumns[f]; ok && im.h.has(f) {
				set = append(set, col)
			}
		}
		var assign, old, new []string
		for _, col := range set {
			assign = append(assign, col+" = EXCLUDED."+col)
			old, new = append(old, "c."+col), append(new, "EXCLUDED."+col)
		}
		if len(im.h.attrs) > 0 {
			assign = append(assign, "attributes = c.attributes || EXCLUDED.attributes")
			old, new = append(old, "c.attributes"), append(new, "c.attributes || EXCLUDED.attributes")
		}
		insert += `
		ON CONFLICT (external_id) DO UPDATE SET ` + strings.Join(assign, ", ") + `,
			version = c.version + 1, rev = nextval('customer_rev'), txid = txid_current(), updated_at = now()
		WHERE (` + strings.Join(old, ", ") + `) IS DISTINCT FROM (` + strings.Join(new, ", ") + `)`
	}
	return `WITH up AS (` + insert + `
		RETURNING (xmax = 0) AS inserted, rev)
	SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted), coalesce(max(rev), 0) FROM up`
}
