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
// lose their rows. When regions change (regions.rev moves — checked every minute and on
// each notification), the changed levels are reloaded and re-assigned in bulk. At start
// every level is assigned once in bulk (AssignAll), so writes made while no server ran are
// covered too. Runs until ctx ends; errors are logged and retried.
//
// Hook: `go olap.FollowAssignments(ctx, db, log)` in the server's start-up.
func FollowAssignments(ctx context.Context, db *postgis.DB, log *slog.Logger) {
	if log == nil {
		log = slog.Default()
	}
	f := &assignFollower{db: db, log: log, store: crm.NewStore(db), revs: map[string]int64{}}
	for wait := time.Second; ctx.Err() == nil; {
		err := f.run(ctx)
		if ctx.Err() != nil {
			return
		}
		log.Warn("region assignment: change feed interrupted; retrying", "err", err, "in", wait)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(2*wait, time.Minute)
	}
}

type assignFollower struct {
	db    *postgis.DB
	log   *slog.Logger
	store *crm.Store
	a     *Assigner
	revs  map[string]int64 // max(regions.rev) per level as last assigned
	since int64            // change-feed position (a snapshot xmin)
}

func (f *assignFollower) run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	conn, err := f.db.Pool.Acquire(ctx)
	if err != nil {
		return postgis.Wrap(err)
	}
	pc := conn.Hijack() // a LISTENing connection must not go back to the pool
	defer pc.Close(context.Background())
	if _, err := pc.Exec(ctx, `LISTEN gcrm_changes`); err != nil {
		return postgis.Wrap(err)
	}
	notes := make(chan struct{}, 1)
	errc := make(chan error, 1)
	go func() {
		for {
			if _, err := pc.WaitForNotification(ctx); err != nil {
				errc <- err
				return
			}
			select {
			case notes <- struct{}{}:
			default:
			}
		}
	}()
	defer func() { cancel(); <-errc }()
	if f.a == nil {
		// Position the feed before the bulk pass: a write during the pass is seen again.
		if err := f.db.Pool.QueryRow(ctx, `SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint`).Scan(&f.since); err != nil {
			return postgis.Wrap(err)
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
		case err := <-errc:
			errc <- err
			return geo.Errorf(geo.EUNAVAILABLE, "listening for changes failed: %v", err)
		case <-notes:
		case <-tick.C:
		}
	}
}

// syncRegions reloads and bulk re-assigns every level whose regions changed (or appeared),
// and forgets levels that are gone.
func (f *assignFollower) syncRegions(ctx context.Context) error {
	rows, err := f.db.Pool.Query(ctx, `SELECT level, max(rev) FROM regions GROUP BY level`)
	if err != nil {
		return postgis.Wrap(err)
	}
	now := map[string]int64{}
	for rows.Next() {
		var l string
		var rev int64
		if err := rows.Scan(&l, &rev); err != nil {
			rows.Close()
			return postgis.Wrap(err)
		}
		now[l] = rev
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return postgis.Wrap(err)
	}
	for l, rev := range now {
		if f.revs[l] == rev {
			continue
		}
		start := time.Now()
		if err := f.a.Reload(ctx, f.db, l); err != nil {
			return err
		}
		st, err := AssignAll(ctx, f.db, f.a.Index(l))
		if err != nil {
			return err
		}
		f.revs[l] = rev
		f.log.Info("region assignment", "level", l, "customers", st.Customers, "assigned", st.Assigned, "ms", time.Since(start).Milliseconds())
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
		}
	}
	return nil
}

// syncCustomers re-assigns the customers changed since the last call.
func (f *assignFollower) syncCustomers(ctx context.Context) error {
	var ids []int64
	var out [][]any
	xmin, err := f.store.ScanChanges(ctx, f.since, func(p *crm.Point) error {
		ids = append(ids, p.ID)
		if p.Located {
			for l, r := range f.a.Locate([2]float64{p.Lon, p.Lat}) {
				out = append(out, []any{p.ID, l, r.ID})
			}
		}
		return nil
	}, func(d crm.Deletion) error {
		ids = append(ids, d.ID)
		return nil
	})
	if err != nil {
		return err
	}
	if len(ids) > 0 {
		err = f.db.WithTx(ctx, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(7262006)`); err != nil {
				return postgis.Wrap(err)
			}
			if _, err := tx.Exec(ctx, `DELETE FROM customer_regions WHERE customer_id = ANY($1)`, ids); err != nil {
				return postgis.Wrap(err)
			}
			_, err := tx.CopyFrom(ctx, pgx.Identifier{"customer_regions"}, []string{"customer_id", "level", "region_id"}, pgx.CopyFromRows(out))
			return postgis.Wrap(err)
		})
		if err != nil {
			return err
		}
	}
	f.since = xmin
	return nil
}
