package olap

import (
	"context"
	"log/slog"
	"time"

	"github.com/gcrm/gcrm/crm"
	"github.com/gcrm/gcrm/geo"
	"github.com/gcrm/gcrm/geo/postgis"
	"github.com/jackc/pgx/v5"
)

// FollowAssignments keeps customer_regions current for every write, whoever makes it (the
// API, a CSV import, the geocoder, another replica): it follows the change feed (LISTEN
// gcrm_changes + crm.Store.ScanChanges, which misses no commit however transactions
// interleave) and re-assigns each changed customer at every region level; deleted customers
// lose their rows. When regions change (their max(geom_rev) or count moves — checked every minute
// and on each notification), the level's index is reloaded and, unless whoever changed them
// (gcrm import regions, the API) already ran AssignLevel, re-assigned in bulk; when it
// did, the writes this follower consumed since that AssignLevel read the customers are
// re-assigned at the level (catchUp). The feed
// position and the regions' version of each level are kept in region_assignment_state, so
// a restart resumes where the last follower stopped (writes made while no server ran
// included) instead of redoing every level; on a first start, a level AssignLevel left
// (gcrm import regions, the demo) is caught up from its own position, and any other is
// assigned once in bulk. Runs until ctx ends; errors are logged and retried.
//
// Hook: `go olap.FollowAssignments(ctx, db, log)` in the server's start-up.
func FollowAssignments(ctx context.Context, db *postgis.DB, log *slog.Logger) {
	if log == nil {
		log = slog.Default()
	}
	f := &assignFollower{db: db, log: log, store: crm.NewStore(db), revs: map[string]regionsVersion{}}
	postgis.Retry(ctx, log, "region assignment: change feed", f.run)
}

type assignFollower struct {
	db    *postgis.DB
	log   *slog.Logger
	store *crm.Store
	a     *Assigner
	revs  map[string]regionsVersion // version of each level's regions in the loaded index
	since int64                     // change-feed position (a snapshot xmin)
	state bool                      // region_assignment_state exists
}

// regionsVersion identifies a level's boundaries: a new boundary bumps max(geom_rev), a
// deletion lowers the count (new attributes move neither).
type regionsVersion struct{ rev, count int64 }

func (f *assignFollower) run(ctx context.Context) error {
	l, err := f.db.Listen(ctx, "gcrm_changes")
	if err != nil {
		return err
	}
	defer l.Close()
	if f.a == nil {
		if f.state, err = hasAssignmentState(ctx, f.db.Pool); err != nil {
			return err
		}
		resumed := false
		if f.state {
			err := f.db.Pool.QueryRow(ctx, `SELECT feed_xmin FROM region_assignment_state WHERE level = ''`).Scan(&f.since)
			resumed = err == nil
			if err != nil && geo.ErrorCode(postgis.Wrap(err)) != geo.ENOTFOUND {
				return postgis.Wrap(err)
			}
		}
		if !resumed {
			// Position the feed before the bulk passes: a write during them is seen again.
			if err := f.db.Pool.QueryRow(ctx, `SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint`).Scan(&f.since); err != nil {
				return postgis.Wrap(err)
			}
			// A level's stored version is trusted without a follower's feed position only
			// with a position of its own (AssignLevel's: catchUp re-assigns the writes
			// since); others are assigned again in bulk.
			if f.state {
				if _, err := f.db.Pool.Exec(ctx, `DELETE FROM region_assignment_state WHERE feed_xmin = 0`); err != nil {
					return postgis.Wrap(err)
				}
			}
		}
		f.a = &Assigner{levels: map[string]*RegionIndex{}}
	}
	tick := time.NewTicker(time.Minute)
	defer tick.Stop()
	for {
		if err := f.syncRegions(ctx); err != nil {
			return err
		}
		if err := f.syncCustomers(ctx); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-l.Err:
			return err
		case <-l.Notes:
		case <-tick.C:
		}
	}
}

// syncRegions reloads and bulk re-assigns every level whose regions changed (or appeared),
// and forgets levels that are gone.
func (f *assignFollower) syncRegions(ctx context.Context) error {
	now, err := levelVersions(ctx, f.db.Pool, `SELECT level, max(geom_rev), count(*) FROM regions GROUP BY level`)
	if err != nil {
		return err
	}
	stored := map[string]regionsVersion{}
	if f.state {
		if stored, err = levelVersions(ctx, f.db.Pool, `SELECT level, regions_rev, regions_count FROM region_assignment_state WHERE level <> ''`); err != nil {
			return err
		}
	}
	for l, v := range now {
		if f.revs[l] == v {
			continue
		}
		if err := f.a.Reload(ctx, f.db, l); err != nil {
			return err
		}
		idx := f.a.Index(l)
		loaded := regionsVersion{idx.Rev, int64(len(idx.Regions))}
		if !f.state || stored[l] != loaded { // not assigned from these regions yet
			start := time.Now()
			st, err := AssignAll(ctx, f.db, idx)
			if err != nil {
				return err
			}
			f.log.Info("region assignment", "level", l, "customers", st.Customers, "assigned", st.Assigned, "ms", time.Since(start).Milliseconds())
		} else if err := f.catchUp(ctx, l, idx); err != nil {
			return err
		}
		f.revs[l] = loaded
	}
	for l := range f.revs {
		if _, ok := now[l]; !ok {
			f.a.mu.Lock()
			delete(f.a.levels, l)
			f.a.mu.Unlock()
			delete(f.revs, l)
			if _, err := f.db.Pool.Exec(ctx, `DELETE FROM customer_regions WHERE level = $1`, l); err != nil {
				return postgis.Wrap(err)
			}
			if f.state {
				if _, err := f.db.Pool.Exec(ctx, `DELETE FROM region_assignment_state WHERE level = $1`, l); err != nil {
					return postgis.Wrap(err)
				}
			}
		}
	}
	return nil
}

// syncCustomers re-assigns the customers changed since the last call.
func (f *assignFollower) syncCustomers(ctx context.Context) error {
	xmin, n, err := f.reassign(ctx, f.a.loaded(), f.since, func(tx pgx.Tx, xmin int64) error { return f.saveFeed(ctx, tx, xmin) })
	if err != nil {
		return err
	}
	if n == 0 && xmin != f.since {
		if err := f.saveFeed(ctx, f.db.Pool, xmin); err != nil {
			return err
		}
	}
	f.since = xmin
	return nil
}

// catchUp re-assigns at level l, just loaded without a bulk pass (whoever changed its
// regions assigned them), the customers written since that assignment read them, when
// this follower consumed some of those writes before it had loaded these regions: without
// it, a customer moved while an import's AssignLevel ran kept the region of its old place.
func (f *assignFollower) catchUp(ctx context.Context, l string, idx *RegionIndex) error {
	var from int64
	if err := f.db.Pool.QueryRow(ctx, `SELECT feed_xmin FROM region_assignment_state WHERE level = $1`, l).Scan(&from); err != nil {
		return postgis.Wrap(err)
	}
	if from == 0 || from >= f.since { // 0: assigned before levels kept a position
		return nil
	}
	_, _, err := f.reassign(ctx, loadedLevels{l: idx}, from, func(tx pgx.Tx, xmin int64) error {
		_, err := tx.Exec(ctx, `UPDATE region_assignment_state SET feed_xmin = greatest(feed_xmin, $2)
			WHERE level = $1 AND regions_rev = $3 AND regions_count = $4`, l, xmin, idx.Rev, len(idx.Regions))
		return postgis.Wrap(err)
	})
	return err
}

// reassign re-assigns at the levels of known the customers written since the change-feed
// position since (deleted ones lose their rows at every level) in one transaction, which
// done ends with; it returns the feed position read and the changes found. A level whose
// stored assignment is no longer from the regions known holds (another process assigned
// newer ones in the meantime) is left alone: this follower re-assigns it once it has
// loaded them (catchUp).
func (f *assignFollower) reassign(ctx context.Context, known loadedLevels, since int64, done func(pgx.Tx, int64) error) (xmin int64, changes int, err error) {
	var ids, gone []int64
	type row struct {
		id     int64
		level  string
		region int64
	}
	var out []row
	xmin, err = f.store.ScanChanges(ctx, since, func(p *crm.Point) error {
		if !p.Located {
			gone = append(gone, p.ID)
			return nil
		}
		ids = append(ids, p.ID)
		for l, r := range known.locate([2]float64{p.Lon, p.Lat}) {
			out = append(out, row{p.ID, l, r.ID})
		}
		return nil
	}, func(d crm.Deletion) error {
		gone = append(gone, d.ID)
		return nil
	})
	if err != nil || len(ids)+len(gone) == 0 {
		return xmin, 0, err
	}
	err = f.db.WithTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(7262006)`); err != nil {
			return postgis.Wrap(err)
		}
		current := known
		if f.state {
			stored, err := levelVersions(ctx, tx, `SELECT level, regions_rev, regions_count FROM region_assignment_state WHERE level = ANY($1)`, known.names())
			if err != nil {
				return err
			}
			current = loadedLevels{}
			for l, idx := range known {
				if stored[l] == (regionsVersion{idx.Rev, int64(len(idx.Regions))}) {
					current[l] = idx
				}
			}
		}
		if _, err := tx.Exec(ctx, replaceRegionsSQL, ids, current.names(), gone); err != nil {
			return postgis.Wrap(err)
		}
		var rows [][]any
		for _, r := range out {
			if current[r.level] != nil {
				rows = append(rows, []any{r.id, r.level, r.region})
			}
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"customer_regions"}, []string{"customer_id", "level", "region_id"}, pgx.CopyFromRows(rows)); err != nil {
			return postgis.Wrap(err)
		}
		return done(tx, xmin)
	})
	return xmin, len(ids) + len(gone), err
}

// saveFeed records the change-feed position (never moving it back: replicas share it),
// and moves each loaded level's position with it while the level's stored assignment is
// from the regions loaded (so a restart's catchUp has nothing to redo).
func (f *assignFollower) saveFeed(ctx context.Context, q Execer, xmin int64) error {
	if !f.state {
		return nil
	}
	_, err := q.Exec(ctx, `INSERT INTO region_assignment_state (level, feed_xmin) VALUES ('', $1)
		ON CONFLICT (level) DO UPDATE SET feed_xmin = greatest(region_assignment_state.feed_xmin, EXCLUDED.feed_xmin), updated_at = now()`, xmin)
	if err != nil {
		return postgis.Wrap(err)
	}
	var levels []string
	var revs, counts []int64
	for l, v := range f.revs {
		levels, revs, counts = append(levels, l), append(revs, v.rev), append(counts, v.count)
	}
	_, err = q.Exec(ctx, `UPDATE region_assignment_state s SET feed_xmin = greatest(s.feed_xmin, $1)
		FROM unnest($2::text[], $3::bigint[], $4::bigint[]) AS l(level, rev, count)
		WHERE s.level = l.level AND s.regions_rev = l.rev AND s.regions_count = l.count`, xmin, levels, revs, counts)
	return postgis.Wrap(err)
}

// levelVersions reads the regions' version of each level that sql (with args) selects.
func levelVersions(ctx context.Context, q interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}, sql string, args ...any) (map[string]regionsVersion, error) {
	rows, err := q.Query(ctx, sql, args...)
	if err != nil {
		return nil, postgis.Wrap(err)
	}
	defer rows.Close()
	out := map[string]regionsVersion{}
	for rows.Next() {
		var l string
		var v regionsVersion
		if err := rows.Scan(&l, &v.rev, &v.count); err != nil {
			return nil, postgis.Wrap(err)
		}
		out[l] = v
	}
	return out, postgis.Wrap(rows.Err())
}
