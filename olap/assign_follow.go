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
// (gcrm import regions, the API) already ran AssignLevel, re-assigned in bulk. The feed
// position and the regions' version of each level are kept in region_assignment_state, so
// a restart resumes where the last follower stopped (writes made while no server ran
// included) instead of redoing every level; without that state (first start) every level
// is assigned once in bulk. Runs until ctx ends; errors are logged and retried.
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
			if f.state { // the stored per-level versions cannot be trusted without a feed position
				if _, err := f.db.Pool.Exec(ctx, `DELETE FROM region_assignment_state`); err != nil {
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
	now, err := f.versions(ctx, `SELECT level, max(geom_rev), count(*) FROM regions GROUP BY level`)
	if err != nil {
		return err
	}
	stored := map[string]regionsVersion{}
	if f.state {
		if stored, err = f.versions(ctx, `SELECT level, regions_rev, regions_count FROM region_assignment_state WHERE level <> ''`); err != nil {
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
	known := f.a.loaded()
	var ids, gone []int64
	var out [][]any
	xmin, err := f.store.ScanChanges(ctx, f.since, func(p *crm.Point) error {
		if !p.Located {
			gone = append(gone, p.ID)
			return nil
		}
		ids = append(ids, p.ID)
		for l, r := range known.locate([2]float64{p.Lon, p.Lat}) {
			out = append(out, []any{p.ID, l, r.ID})
		}
		return nil
	}, func(d crm.Deletion) error {
		gone = append(gone, d.ID)
		return nil
	})
	if err != nil {
		return err
	}
	if len(ids)+len(gone) > 0 {
		err = f.db.WithTx(ctx, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(7262006)`); err != nil {
				return postgis.Wrap(err)
			}
			if _, err := tx.Exec(ctx, replaceRegionsSQL, ids, known.names(), gone); err != nil {
				return postgis.Wrap(err)
			}
			if _, err := tx.CopyFrom(ctx, pgx.Identifier{"customer_regions"}, []string{"customer_id", "level", "region_id"}, pgx.CopyFromRows(out)); err != nil {
				return postgis.Wrap(err)
			}
			return f.saveFeed(ctx, tx, xmin)
		})
		if err != nil {
			return err
		}
	} else if xmin != f.since {
		if err := f.saveFeed(ctx, f.db.Pool, xmin); err != nil {
			return err
		}
	}
	f.since = xmin
	return nil
}

// saveFeed records the change-feed position (never moving it back: replicas share it).
func (f *assignFollower) saveFeed(ctx context.Context, q Execer, xmin int64) error {
	if !f.state {
		return nil
	}
	_, err := q.Exec(ctx, `INSERT INTO region_assignment_state (level, feed_xmin) VALUES ('', $1)
		ON CONFLICT (level) DO UPDATE SET feed_xmin = greatest(region_assignment_state.feed_xmin, EXCLUDED.feed_xmin), updated_at = now()`, xmin)
	return postgis.Wrap(err)
}

func (f *assignFollower) versions(ctx context.Context, sql string) (map[string]regionsVersion, error) {
	rows, err := f.db.Pool.Query(ctx, sql)
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
