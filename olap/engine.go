package olap

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gcrm/gcrm/crm"
	"github.com/gcrm/gcrm/geo/postgis"
)

// Engine holds every located customer in memory for fast reads. Its methods are safe for
// concurrent use: readers work on immutable snapshots, writers are serialised.
type Engine struct {
	// Log receives Follow's connection errors; nil means slog.Default().
	Log *slog.Logger
	// MergeAt is the delta size (changed plus removed points) at which writes are merged
	// into the base columns; 0 means max(4096, points/64).
	MergeAt int
	// Observer, when set before Load, sees every point a Load reads and every change the
	// engine applies (after its rev check), in order: the cube keeps its aggregates
	// current this way (cube.go).
	Observer Observer

	snap  atomic.Pointer[Snapshot]
	epoch uint64 // random per engine: ETags from two engines never collide

	mu       sync.Mutex // serialises writers
	inDelta  map[int64]Row
	gone     map[int64]int64 // removed (or unlocated) ids → rev of the removal
	dicts    [3]dictWriter   // status, segment, owner
	version  uint64
	versions tileVersions
	merges   chan struct{} // tells Follow a merge is due

	syncMu sync.Mutex // serialises Load and Sync
	xmin   int64
	loaded bool
}

// New returns an empty engine; Load fills it.
func New() *Engine {
	var b [8]byte
	_, _ = rand.Read(b[:])
	e := &Engine{epoch: binary.LittleEndian.Uint64(b[:]), merges: make(chan struct{}, 1)}
	e.reset()
	e.publish(&columns{byID: []uint32{}}, nil, nil)
	return e
}

func (e *Engine) reset() {
	e.inDelta, e.gone = map[int64]Row{}, map[int64]int64{}
	for i := range e.dicts {
		e.dicts[i] = dictWriter{cur: newDict()}
	}
	e.versions.reset(e.version)
}

func (e *Engine) publish(base *columns, dead []uint32, delta []Row) {
	e.snap.Store(&Snapshot{base: base, dead: dead, delta: delta, version: e.version, epoch: e.epoch,
		status: e.dicts[0].publish(), segment: e.dicts[1].publish(), owner: e.dicts[2].publish()})
}

// Snapshot returns the current immutable view of the points.
func (e *Engine) Snapshot() *Snapshot { return e.snap.Load() }

// Version is the data version: it grows with every applied change.
func (e *Engine) Version() uint64 { return e.Snapshot().version }

// Epoch identifies this engine instance (random): combined with a version it names data
// across server restarts and replicas.
func (e *Engine) Epoch() uint64 { return e.epoch }

// TileVersion returns the data version of tile t: the version of the last change inside
// it or within one tile of it (so buffered edges count), or of the last load.
func (e *Engine) TileVersion(t Tile) uint64 { return e.versions.get(t) }

// Load reads every located customer from store into the engine, replacing what it held,
// and remembers the snapshot so Sync reads only later changes. Returns EUNAVAILABLE when
// the database cannot be read.
func (e *Engine) Load(ctx context.Context, store *crm.Store) error {
	e.syncMu.Lock()
	defer e.syncMu.Unlock()
	var b builder
	b.init(e.Observer)
	xmin, err := store.ScanPoints(ctx, func(p *crm.Point) error { b.add(p); return nil })
	if err != nil {
		return err
	}
	e.install(&b)
	e.xmin, e.loaded = xmin, true
	return nil
}

// LoadPoints replaces the engine's content with the located points of ps (tests,
// benchmarks and demos that have their points in memory). Sync still needs Load first.
func (e *Engine) LoadPoints(ps []crm.Point) {
	e.syncMu.Lock()
	defer e.syncMu.Unlock()
	var b builder
	b.init(e.Observer)
	for i := range ps {
		if ps[i].Located {
			b.add(&ps[i])
		}
	}
	e.install(&b)
}

// builder collects loaded points before they are sorted into base columns, and hands
// them to the Observer's load (committed only when the load is published).
type builder struct {
	dicts [3]dictWriter
	cols  *columns
	obs   ObserverLoad
}

func (b *builder) init(o Observer) {
	if o != nil {
		b.obs = o.BeginLoad()
	}
	for i := range b.dicts {
		b.dicts[i] = dictWriter{cur: newDict()}
	}
	b.cols = newColumns(1024)
}

func (b *builder) add(p *crm.Point) {
	if b.obs != nil {
		b.obs.Add(p)
	}
	r := Row{ID: p.ID, Cell: uint64(p.Cell), Kind: kindCode(p.Kind), Status: b.dicts[0].code(p.Status),
		Segment: b.dicts[1].code(p.Segment), Owner: b.dicts[2].code(p.Owner), Revenue: p.Revenue, Rev: p.Rev}
	r.X, r.Y = Project(p.Lon, p.Lat)
	b.cols.add(&r)
}

// install publishes b's points as the new base. Called with e.syncMu held.
func (e *Engine) install(b *builder) {
	base := b.cols.sorted()
	e.mu.Lock()
	defer e.mu.Unlock()
	e.version++
	e.reset()
	e.dicts = b.dicts
	e.publish(base, nil, nil)
	if b.obs != nil {
		b.obs.Commit()
	}
}

func kindCode(k string) uint8 {
	if c := crm.KindCode(k); c >= 0 {
		return uint8(c)
	}
	return 0
}

// Sync applies the change feed: every change committed since the last Load or Sync.
// Changes the engine already has (by rev) are skipped. Returns EUNAVAILABLE when the
// database cannot be read.
func (e *Engine) Sync(ctx context.Context, store *crm.Store) error {
	e.syncMu.Lock()
	if !e.loaded {
		e.syncMu.Unlock()
		return e.Load(ctx, store)
	}
	defer e.syncMu.Unlock()
	var changes []change
	xmin, err := store.ScanChanges(ctx, e.xmin, func(p *crm.Point) error {
		changes = append(changes, change{point: *p})
		return nil
	}, func(d crm.Deletion) error {
		changes = append(changes, change{point: crm.Point{ID: d.ID, Rev: d.Rev}})
		return nil
	})
	if err != nil {
		return err
	}
	e.apply(changes)
	e.xmin = xmin
	return nil
}

// Put records a committed create or update (web.Changes). A record without a location is
// dropped from the engine. A change older (by rev) than what the engine holds is ignored.
func (e *Engine) Put(c *crm.Customer) { e.apply([]change{{point: crm.PointOf(c)}}) }

// Remove records a committed deletion with its rev (web.Changes).
func (e *Engine) Remove(id, rev int64) { e.apply([]change{{point: crm.Point{ID: id, Rev: rev}}}) }

// change is a new state of one record; Located false removes it.
type change struct{ point crm.Point }

// bigBatch is the number of changes above which a batch marks every tile as changed
// rather than each tile it touches.
const bigBatch = 20000

func (e *Engine) apply(changes []change) {
	if len(changes) == 0 {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	cur := e.snap.Load()
	base := cur.base
	drop := map[int64]bool{}
	adds := map[int64]Row{}
	var dead []uint32
	var touched [][2]uint32
	for i := range changes {
		p := &changes[i].point
		// What the engine holds for the id now, and its rev.
		var held *Row
		var heldRev int64
		pos := -1
		if r, ok := e.inDelta[p.ID]; ok {
			held, heldRev = &r, r.Rev
		} else if rev, ok := e.gone[p.ID]; ok {
			heldRev = rev
		} else if pos = base.find(p.ID); pos >= 0 {
			heldRev = base.rev.at(pos)
		}
		if p.Rev <= heldRev {
			continue
		}
		if e.Observer != nil {
			e.Observer.Apply(p)
		}
		switch {
		case held != nil:
			drop[p.ID] = true
			delete(adds, p.ID)
			delete(e.inDelta, p.ID)
			touched = append(touched, [2]uint32{held.X, held.Y})
		case pos >= 0:
			dead = append(dead, uint32(pos))
			touched = append(touched, [2]uint32{base.x[pos], base.y[pos]})
		}
		if !p.Located {
			e.gone[p.ID] = p.Rev
			continue
		}
		delete(e.gone, p.ID)
		r := Row{ID: p.ID, Cell: uint64(p.Cell), Kind: kindCode(p.Kind), Status: e.dicts[0].code(p.Status),
			Segment: e.dicts[1].code(p.Segment), Owner: e.dicts[2].code(p.Owner), Revenue: p.Revenue, Rev: p.Rev}
		r.X, r.Y = Project(p.Lon, p.Lat)
		adds[p.ID] = r
		e.inDelta[p.ID] = r
		touched = append(touched, [2]uint32{r.X, r.Y})
	}
	if len(touched) == 0 {
		return
	}
	added := make([]Row, 0, len(adds))
	for _, r := range adds {
		added = append(added, r)
	}
	slices.SortFunc(added, func(a, b Row) int {
		ka, kb := a.key(), b.key()
		switch {
		case ka < kb:
			return -1
		case ka > kb:
			return 1
		}
		return 0
	})
	// The new delta: the old one without the changed ids, merged with the additions.
	delta := make([]Row, 0, len(cur.delta)+len(added))
	j := 0
	for _, r := range cur.delta {
		if len(drop) > 0 && drop[r.ID] {
			continue
		}
		for k := r.key(); j < len(added) && added[j].key() < k; j++ {
			delta = append(delta, added[j])
		}
		delta = append(delta, r)
	}
	delta = append(delta, added[j:]...)
	allDead := cur.dead
	if len(dead) > 0 {
		slices.Sort(dead)
		allDead = mergeSorted(cur.dead, dead)
	}
	e.version++
	e.publish(base, allDead, delta)
	// After publishing: a reader that sees the new tile version also sees the new data.
	if len(changes) > bigBatch {
		e.versions.all(e.version)
	} else {
		for _, t := range touched {
			e.versions.touch(e.version, t[0], t[1])
		}
	}
	e.maybeMerge()
}

func mergeSorted(a, b []uint32) []uint32 {
	out := make([]uint32, 0, len(a)+len(b))
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		if a[i] < b[j] {
			out = append(out, a[i])
			i++
		} else {
			out = append(out, b[j])
			j++
		}
	}
	out = append(out, a[i:]...)
	return append(out, b[j:]...)
}

func (e *Engine) mergeAt(n int) int {
	if e.MergeAt > 0 {
		return e.MergeAt
	}
	return max(4096, n/64)
}

// maybeMerge asks Follow for a merge when the delta is large, and merges at once when it
// is four times that (no follower, or one that falls behind). Called with e.mu held.
func (e *Engine) maybeMerge() {
	s := e.snap.Load()
	size, limit := len(s.delta)+len(s.dead), e.mergeAt(s.base.len())
	switch {
	case size >= 4*limit:
		e.mergeLocked()
	case size >= limit:
		select {
		case e.merges <- struct{}{}:
		default:
		}
	}
}

// Merge folds the delta and tombstones into new base columns. Readers keep the snapshot
// they hold; the data version does not change (the content is the same).
func (e *Engine) Merge() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.mergeLocked()
}

func (e *Engine) mergeLocked() {
	s := e.snap.Load()
	if len(s.delta) == 0 && len(s.dead) == 0 {
		return
	}
	base := s.base.merge(s.dead, s.delta)
	e.inDelta = map[int64]Row{} // a fresh map: clear() would keep a big batch's buckets
	e.publish(base, nil, nil)
}

// Follow keeps the engine current until ctx ends: it LISTENs on the gcrm_changes channel
// and Syncs on every notification (and every minute, in case one was lost), and merges the
// delta when writes ask for it. Connection errors are logged and retried. It returns when
// ctx is done.
func (e *Engine) Follow(ctx context.Context, db *postgis.DB) {
	store := crm.NewStore(db)
	log := e.Log
	if log == nil {
		log = slog.Default()
	}
	postgis.Retry(ctx, log, "engine: change feed", func(ctx context.Context) error { return e.follow(ctx, db, store) })
}

func (e *Engine) follow(ctx context.Context, db *postgis.DB, store *crm.Store) error {
	l, err := db.Listen(ctx, "gcrm_changes")
	if err != nil {
		return err
	}
	defer l.Close()
	if err := e.Sync(ctx, store); err != nil { // catch up on what happened while not listening
		return err
	}
	tick := time.NewTicker(time.Minute)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-l.Err:
			return err
		case <-l.Notes:
		case <-tick.C:
		case <-e.merges:
			e.Merge()
			continue
		}
		if err := e.Sync(ctx, store); err != nil {
			return err
		}
	}
}
