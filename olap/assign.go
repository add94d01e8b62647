package olap

import (
	"context"
	"encoding/binary"
	"fmt"
	"maps"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gcrm/gcrm/geo"
	"github.com/gcrm/gcrm/geo/postgis"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/wkb"
	"github.com/tidwall/rtree"
	"golang.org/x/sync/errgroup"
)

// Region is one region of a level as the assignment index knows it.
type Region struct {
	ID   int64
	Code string
}

// RegionIndex finds the region of one level (county, state, …) that contains a point: an
// R-tree over the bounding boxes of the regions' polygons narrows the candidates, an exact
// point-in-polygon test (holes and multipolygons included) decides. A point on a border
// shared by two regions belongs to exactly one of them: the one to its east, or to its
// north on an east–west border (see assign_pip.go). It is safe for concurrent use.
type RegionIndex struct {
	Level   string
	Regions []Region
	Rev     int64 // max(regions.geom_rev) of the level when loaded: with len(Regions), its version
	polys   []polygon
	tree    rtree.RTreeGN[float64, int32]
}

// NewRegionIndex builds an index of regions from their geometries (orb.Polygon or
// orb.MultiPolygon; other types are ignored). geoms[i] is the geometry of regions[i].
func NewRegionIndex(level string, regions []Region, geoms []orb.Geometry) *RegionIndex {
	idx := &RegionIndex{Level: level, Regions: regions}
	for i, g := range geoms {
		var polys []orb.Polygon
		switch g := g.(type) {
		case orb.Polygon:
			polys = []orb.Polygon{g}
		case orb.MultiPolygon:
			polys = g
		}
		for _, p := range polys {
			if len(p) == 0 || len(p[0]) < 3 {
				continue
			}
			idx.polys = append(idx.polys, newPolygon(p, int32(i)))
		}
	}
	for i := range idx.polys {
		b := idx.polys[i].bound
		idx.tree.Insert([2]float64{b.Min[0], b.Min[1]}, [2]float64{b.Max[0], b.Max[1]}, int32(i))
	}
	return idx
}

// Locate returns the index into Regions of the region containing p, or -1 when p is in
// none.
func (idx *RegionIndex) Locate(p orb.Point) int {
	x, y := p[0], p[1]
	found := int32(-1)
	idx.tree.Search([2]float64{x, y}, [2]float64{x, y}, func(_, _ [2]float64, i int32) bool {
		if idx.polys[i].contains(x, y) {
			found = idx.polys[i].region
			return false
		}
		return true
	})
	return int(found)
}

// LoadRegionIndex reads the regions of level from the regions table and indexes them.
// Returns ENOTFOUND when the level has no regions. An index is read-only once built, so the
// callers of one process share it while the level's boundaries stay the same (the
// assignment follower and the cube at start-up would otherwise parse every polygon twice).
func LoadRegionIndex(ctx context.Context, db *postgis.DB, level string) (*RegionIndex, error) {
	var v regionsVersion
	if err := db.Pool.QueryRow(ctx, `SELECT coalesce(max(geom_rev), 0), count(*) FROM regions WHERE level = $1 AND geom IS NOT NULL`, level).Scan(&v.rev, &v.count); err != nil {
		return nil, postgis.Wrap(err)
	}
	key := regionIndexKey{db, level}
	regionIndexes.Lock()
	idx, ok := regionIndexes.m[key]
	regionIndexes.Unlock()
	if ok && idx.Rev == v.rev && int64(len(idx.Regions)) == v.count {
		return idx, nil
	}
	idx, err := readRegionIndex(ctx, db, level)
	if err != nil {
		return nil, err
	}
	regionIndexes.Lock()
	regionIndexes.m[key] = idx
	regionIndexes.Unlock()
	return idx, nil
}

// regionIndexes holds the last index read of each level of each database.
var regionIndexes = struct {
	sync.Mutex
	m map[regionIndexKey]*RegionIndex
}{m: map[regionIndexKey]*RegionIndex{}}

type regionIndexKey struct {
	db    *postgis.DB
	level string
}

func readRegionIndex(ctx context.Context, db *postgis.DB, level string) (*RegionIndex, error) {
	const q = `SELECT id, code, ST_AsBinary(geom), geom_rev FROM regions WHERE level = $1 AND geom IS NOT NULL ORDER BY id`
	rows, err := db.Pool.Query(ctx, q, level)
	if err != nil {
		return nil, postgis.Wrap(err)
	}
	defer rows.Close()
	var regions []Region
	var geoms []orb.Geometry
	var maxRev int64
	for rows.Next() {
		var r Region
		var b []byte
		var rev int64
		if err := rows.Scan(&r.ID, &r.Code, &b, &rev); err != nil {
			return nil, postgis.Wrap(err)
		}
		g, err := wkb.Unmarshal(b)
		if err != nil {
			return nil, fmt.Errorf("region %d (%s %s): decode geometry: %w", r.ID, level, r.Code, err)
		}
		regions = append(regions, r)
		geoms = append(geoms, g)
		maxRev = max(maxRev, rev)
	}
	if err := rows.Err(); err != nil {
		return nil, postgis.Wrap(err)
	}
	if len(regions) == 0 {
		return nil, geo.Errorf(geo.ENOTFOUND, "there are no regions of level %q: import them first with 'gcrm import regions'", level)
	}
	idx := NewRegionIndex(level, regions, geoms)
	idx.Rev = maxRev
	return idx, nil
}

// RegionLevels returns the levels present in the regions table, sorted.
func RegionLevels(ctx context.Context, db *postgis.DB) ([]string, error) {
	rows, err := db.Pool.Query(ctx, `SELECT DISTINCT level FROM regions ORDER BY level`)
	if err != nil {
		return nil, postgis.Wrap(err)
	}
	levels, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return levels, postgis.Wrap(err)
}

// AssignStats says what AssignAll did.
type AssignStats struct {
	Customers  int // located customers read
	Assigned   int // of them inside a region (rows written)
	Unassigned int // outside every region of the level
	// Where the time went (the phases overlap: they run as a pipeline).
	Read   time.Duration // reading the customers' points until the last row
	Locate time.Duration // point-in-polygon work, summed over the workers
	Write  time.Duration // the transaction: delete the level's rows, COPY, commit
}

// AssignAll assigns every located customer to its region of idx.Level and replaces the
// stored assignment of that level (table customer_regions) in one transaction, so readers
// see the old or the new assignment, never a mix. Reading the customers, locating them
// (on all cores) and writing with COPY run as a pipeline.
func AssignAll(ctx context.Context, db *postgis.DB, idx *RegionIndex) (AssignStats, error) {
	var st AssignStats
	type batch = assignBatch
	g, gctx := errgroup.WithContext(ctx)
	read := make(chan *batch, 4)
	located := make(chan *batch, 4)

	start := time.Now()
	// The change-feed position before the read: a write the read does not see is at or
	// after it, and a follower that consumed such a write before loading these regions
	// re-assigns it from there (region_assignment_state.feed_xmin of the level).
	var xmin int64
	if err := db.Pool.QueryRow(ctx, `SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint`).Scan(&xmin); err != nil {
		return st, postgis.Wrap(err)
	}
	var locateNanos atomic.Int64
	// Reader: customer ids and points, decoded straight from the EWKB bytes.
	g.Go(func() error {
		defer close(read)
		defer func() { st.Read = time.Since(start) }()
		rows, err := db.Pool.Query(gctx, `SELECT id, geom FROM customers WHERE geom IS NOT NULL`,
			pgx.QueryResultFormats{pgx.BinaryFormatCode, pgx.BinaryFormatCode})
		if err != nil {
			return postgis.Wrap(err)
		}
		defer rows.Close()
		const size = 8192
		b := &batch{ids: make([]int64, 0, size), pts: make([]orb.Point, 0, size)}
		for rows.Next() {
			raw := rows.RawValues()
			if len(raw[0]) != 8 {
				return fmt.Errorf("customers.id: unexpected %d bytes", len(raw[0]))
			}
			x, y, ok := postgis.Point(raw[1])
			if !ok {
				continue
			}
			b.ids = append(b.ids, int64(binary.BigEndian.Uint64(raw[0])))
			b.pts = append(b.pts, orb.Point{x, y})
			if len(b.ids) == size {
				select {
				case read <- b:
				case <-gctx.Done():
					return gctx.Err()
				}
				b = &batch{ids: make([]int64, 0, size), pts: make([]orb.Point, 0, size)}
			}
		}
		if err := rows.Err(); err != nil {
			return postgis.Wrap(err)
		}
		if len(b.ids) > 0 {
			select {
			case read <- b:
			case <-gctx.Done():
				return gctx.Err()
			}
		}
		return nil
	})

	// Locators, one per core.
	workers := runtime.GOMAXPROCS(0)
	var wg sync.WaitGroup
	wg.Add(workers)
	for w := 0; w < workers; w++ {
		g.Go(func() error {
			defer wg.Done()
			for b := range read {
				t0 := time.Now()
				b.reg = make([]int32, len(b.pts))
				for i, p := range b.pts {
					b.reg[i] = int32(idx.Locate(p))
				}
				locateNanos.Add(int64(time.Since(t0)))
				select {
				case located <- b:
				case <-gctx.Done():
					return gctx.Err()
				}
			}
			return nil
		})
	}
	go func() { wg.Wait(); close(located) }()

	// Writer: one transaction, delete the level, COPY the new rows.
	g.Go(func() error {
		defer func() {
			for range located { // unblock locators if the writer fails
			}
		}()
		defer func() { st.Write = time.Since(start) }()
		return db.WithTx(gctx, func(tx pgx.Tx) error {
			// Bulk writers of customer_regions (replicas' followers) take turns.
			if _, err := tx.Exec(gctx, `SELECT pg_advisory_xact_lock(7262006)`); err != nil {
				return postgis.Wrap(err)
			}
			if _, err := tx.Exec(gctx, `DELETE FROM customer_regions WHERE level = $1`, idx.Level); err != nil {
				return postgis.Wrap(err)
			}
			src := &assignSource{ctx: gctx, level: idx.Level, idx: idx, in: located, st: &st}
			if _, err := tx.CopyFrom(gctx, pgx.Identifier{"customer_regions"}, []string{"customer_id", "level", "region_id"}, src); err != nil {
				return postgis.Wrap(err)
			}
			return saveLevelState(gctx, tx, idx, xmin)
		})
	})
	err := g.Wait()
	st.Locate = time.Duration(locateNanos.Load())
	return st, err
}

// assignBatch is a run of customers on their way through AssignAll's pipeline.
type assignBatch struct {
	ids []int64
	pts []orb.Point
	reg []int32
}

// assignSource feeds located batches to COPY, skipping points outside every region.
type assignSource struct {
	ctx   context.Context // a failed reader or locator cancels it: the COPY must fail too
	level string
	idx   *RegionIndex
	in    <-chan *assignBatch
	cur   *assignBatch
	i     int
	row   [3]any
	st    *AssignStats
}

func (s *assignSource) Next() bool {
	for {
		if s.cur != nil {
			for s.i < len(s.cur.ids) {
				i := s.i
				s.i++
				s.st.Customers++
				r := s.cur.reg[i]
				if r < 0 {
					s.st.Unassigned++
					continue
				}
				s.st.Assigned++
				s.row = [3]any{s.cur.ids[i], s.level, s.idx.Regions[r].ID}
				return true
			}
		}
		b, ok := <-s.in
		if !ok {
			return false
		}
		s.cur, s.i = b, 0
	}
}

func (s *assignSource) Values() ([]any, error) { return s.row[:], nil }
func (s *assignSource) Err() error             { return s.ctx.Err() }

// Execer runs one SQL statement: a pgx.Tx, *pgx.Conn or *pgxpool.Pool, so a caller can
// assign inside the transaction of its own write.
type Execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// Assigner keeps one RegionIndex per region level in memory and stores the regions of a
// customer after each write. Use it from every code path that creates a customer or moves
// one (API create/update, CSV import, geocoding); AssignAll covers bulk re-assignment after
// regions change.
type Assigner struct {
	mu     sync.RWMutex
	levels map[string]*RegionIndex
}

// NewAssigner loads an index for every level in the regions table (none is fine: customers
// are then assigned to nothing until Reload).
func NewAssigner(ctx context.Context, db *postgis.DB) (*Assigner, error) {
	a := &Assigner{levels: map[string]*RegionIndex{}}
	levels, err := RegionLevels(ctx, db)
	if err != nil {
		return nil, err
	}
	for _, l := range levels {
		if err := a.Reload(ctx, db, l); err != nil {
			return nil, err
		}
	}
	return a, nil
}

// Reload reads level's regions again (after an import of regions). Returns ENOTFOUND when
// the level has no regions any more, after dropping it.
func (a *Assigner) Reload(ctx context.Context, db *postgis.DB, level string) error {
	idx, err := LoadRegionIndex(ctx, db, level)
	a.mu.Lock()
	defer a.mu.Unlock()
	if err != nil {
		delete(a.levels, level)
		return err
	}
	a.levels[level] = idx
	return nil
}

// Index returns the index of level, or nil.
func (a *Assigner) Index(level string) *RegionIndex {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return a.levels[level]
}

// loadedLevels are the indexes of the levels an Assigner had loaded at one moment.
type loadedLevels map[string]*RegionIndex

// loaded returns the levels loaded now: a writer locates its customers and replaces their
// rows at these levels only, so that it never drops the rows of a level another process
// (an import through the API, another replica) assigned and this one has not loaded yet.
func (a *Assigner) loaded() loadedLevels {
	a.mu.RLock()
	defer a.mu.RUnlock()
	return maps.Clone(loadedLevels(a.levels))
}

// locate returns the region of p at every level (levels where p is in no region are absent).
func (ls loadedLevels) locate(p orb.Point) map[string]Region {
	out := make(map[string]Region, len(ls))
	for l, idx := range ls {
		if i := idx.Locate(p); i >= 0 {
			out[l] = idx.Regions[i]
		}
	}
	return out
}

func (ls loadedLevels) names() []string { return slices.Collect(maps.Keys(ls)) }

// replaceRegionsSQL deletes the stored regions of the customers $1 at the levels $2, and of
// the customers $3 (deleted or without a location: in no region) at every level.
const replaceRegionsSQL = `DELETE FROM customer_regions WHERE customer_id = ANY($1) AND level = ANY($2) OR customer_id = ANY($3)`

// AssignCustomer stores the regions of customer id located at p (nil: not located, so in
// no region) at every loaded level, replacing its previous assignment. Run it with the
// write's transaction (or the pool right after the commit).
func (a *Assigner) AssignCustomer(ctx context.Context, q Execer, id int64, p *orb.Point) error {
	known := a.loaded()
	levels, regions := []string{}, []int64{}
	if p != nil {
		for l, r := range known.locate(*p) {
			levels = append(levels, l)
			regions = append(regions, r.ID)
		}
	}
	// Located, its rows at the loaded levels where it is in no region go; not located, all.
	const sql = `WITH upsert AS (
		INSERT INTO customer_regions (customer_id, level, region_id)
		SELECT $1, l, r FROM unnest($2::text[], $3::bigint[]) AS u(l, r)
		ON CONFLICT (customer_id, level) DO UPDATE SET region_id = EXCLUDED.region_id)
	DELETE FROM customer_regions WHERE customer_id = $1 AND level <> ALL($2::text[]) AND ($4 OR level = ANY($5::text[]))`
	_, err := q.Exec(ctx, sql, id, levels, regions, p == nil, known.names())
	return postgis.Wrap(err)
}

// UnassignCustomer removes the stored regions of a deleted customer.
func UnassignCustomer(ctx context.Context, q Execer, id int64) error {
	_, err := q.Exec(ctx, `DELETE FROM customer_regions WHERE customer_id = $1`, id)
	return postgis.Wrap(err)
}

// AssignLevel loads the regions of level and assigns every customer to them (AssignAll):
// run it after the regions of a level are imported or changed. Returns ENOTFOUND when the
// level has no regions.
func AssignLevel(ctx context.Context, db *postgis.DB, level string) (AssignStats, error) {
	idx, err := LoadRegionIndex(ctx, db, level)
	if err != nil {
		return AssignStats{}, err
	}
	return AssignAll(ctx, db, idx)
}

// assignChangedSQL reads the customers and deletions written after rev $1: the newest rows,
// found through the BRIN index on customers (rev, txid).
const assignChangedSQL = `SELECT id, geom, rev FROM customers WHERE rev > $1
	UNION ALL SELECT id, NULL, rev FROM customer_deletions WHERE rev > $1`

// AssignChanged assigns, at every loaded level, the customers written after rev sinceRev
// (created, moved or deleted: customers.rev and customer_deletions.rev share one sequence)
// and returns the newest rev seen, to pass next time. It is the hook for bulk writers: note
// the last rev before an import (coalesce(pg_sequence_last_value('customer_rev'), 0); not
// max(rev), which has no btree to answer it and reads the whole table), call AssignChanged
// with it afterwards. One transaction.
func (a *Assigner) AssignChanged(ctx context.Context, db *postgis.DB, sinceRev int64) (maxRev int64, changed int, err error) {
	maxRev = sinceRev
	known := a.loaded()
	var ids, gone []int64
	var rowsOut [][]any
	rows, err := db.Pool.Query(ctx, assignChangedSQL, sinceRev)
	if err != nil {
		return sinceRev, 0, postgis.Wrap(err)
	}
	for rows.Next() {
		var id, rev int64
		var g []byte
		if err := rows.Scan(&id, &g, &rev); err != nil {
			rows.Close()
			return sinceRev, 0, postgis.Wrap(err)
		}
		if rev > maxRev {
			maxRev = rev
		}
		x, y, ok := postgis.Point(g)
		if !ok {
			gone = append(gone, id)
			continue
		}
		ids = append(ids, id)
		for l, r := range known.locate(orb.Point{x, y}) {
			rowsOut = append(rowsOut, []any{id, l, r.ID})
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return sinceRev, 0, postgis.Wrap(err)
	}
	if len(ids)+len(gone) == 0 {
		return maxRev, 0, nil
	}
	err = db.WithTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(7262006)`); err != nil {
			return postgis.Wrap(err)
		}
		if _, err := tx.Exec(ctx, replaceRegionsSQL, ids, known.names(), gone); err != nil {
			return postgis.Wrap(err)
		}
		_, err := tx.CopyFrom(ctx, pgx.Identifier{"customer_regions"}, []string{"customer_id", "level", "region_id"}, pgx.CopyFromRows(rowsOut))
		return postgis.Wrap(err)
	})
	if err != nil {
		return sinceRev, 0, err
	}
	return maxRev, len(ids) + len(gone), nil
}

// saveLevelState records which version of the level's regions the stored assignment was
// computed from (table region_assignment_state), so a server start or a second writer
// does not redo it, and the change-feed position xmin before which every customer write
// is assigned from them. Databases migrated before that table existed are left alone.
func saveLevelState(ctx context.Context, tx pgx.Tx, idx *RegionIndex, xmin int64) error {
	ok, err := hasAssignmentState(ctx, tx)
	if err != nil || !ok {
		return err
	}
	_, err = tx.Exec(ctx, `INSERT INTO region_assignment_state (level, regions_rev, regions_count, feed_xmin) VALUES ($1, $2, $3, $4)
		ON CONFLICT (level) DO UPDATE SET regions_rev = EXCLUDED.regions_rev, regions_count = EXCLUDED.regions_count,
			feed_xmin = EXCLUDED.feed_xmin, updated_at = now()`,
		idx.Level, idx.Rev, len(idx.Regions), xmin)
	return postgis.Wrap(err)
}

type queryer interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

func hasAssignmentState(ctx context.Context, q queryer) (bool, error) {
	var ok bool
	err := q.QueryRow(ctx, `SELECT to_regclass('region_assignment_state') IS NOT NULL`).Scan(&ok)
	return ok, postgis.Wrap(err)
}
