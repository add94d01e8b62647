package olap

import (
	"context"
	"log/slog"
	"time"

	"github.com/gcrm/gcrm/crm"
	"github.com/gcrm/gcrm/geo/postgis"
)

// Re-keying the cube when regions change while it serves: the region levels and polygons
// the cube keys records by are part of what a load builds. SetRegionIndexes names the
// levels of the next load; the load (Engine.Load) locates every record in them and swaps
// the new levels in together with the new cells, so a query sees either the old levels
// with the old cells or the new ones with the new cells. FollowCubeRegions does this
// whenever the regions table changes (an import through the API or the CLI, region
// attributes such as population).

// regionDicts codes the regions of the given indexes (at most MaxCubeLevels; nil skipped).
func regionDicts(indexes ...*RegionIndex) []*regionDict {
	var out []*regionDict
	for _, idx := range indexes {
		if idx == nil || len(out) == MaxCubeLevels {
			continue
		}
		d := &regionDict{level: idx.Level, idx: idx, codes: []string{""}, ids: []int64{0}, byIdx: make([]uint32, len(idx.Regions))}
		for i, r := range idx.Regions {
			d.byIdx[i] = uint32(len(d.codes))
			d.codes = append(d.codes, r.Code)
			d.ids = append(d.ids, r.ID)
		}
		out = append(out, d)
	}
	return out
}

// SetRegionIndexes makes the cube key records by these region levels from its next load
// on (Engine.Load re-reads every record); until that load commits, queries see the
// current levels.
func (c *Cube) SetRegionIndexes(indexes ...*RegionIndex) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.next = regionDicts(indexes...)
	if c.next == nil {
		c.next = []*regionDict{} // no levels at all (not "the current ones")
	}
}

// loadCubeRegions reads the region indexes of the first MaxCubeLevels levels in the
// database, the populations of their regions and the regions' version read before them (a
// change while they load is seen again by FollowCubeRegions).
func loadCubeRegions(ctx context.Context, db *postgis.DB) ([]*RegionIndex, map[string]map[string]float64, cubeRegionsVersion, error) {
	v, err := regionVersions(ctx, db)
	if err != nil {
		return nil, nil, v, err
	}
	levels, err := RegionLevels(ctx, db)
	if err != nil {
		return nil, nil, v, err
	}
	var idx []*RegionIndex
	pops := map[string]map[string]float64{}
	for _, l := range levels {
		if len(idx) == MaxCubeLevels {
			break
		}
		ri, err := LoadRegionIndex(ctx, db, l)
		if err != nil {
			return nil, nil, v, err
		}
		idx = append(idx, ri)
		if pops[l], err = LoadRegionPopulation(ctx, db, l); err != nil {
			return nil, nil, v, err
		}
	}
	return idx, pops, v, nil
}

// RekeyCube reloads the cube's region levels and populations from the database and
// re-keys every record by them through engine.Load (whose Observer is cube).
func RekeyCube(ctx context.Context, db *postgis.DB, cube *Cube, engine *Engine, store *crm.Store) error {
	idx, pops, v, err := loadCubeRegions(ctx, db)
	if err != nil {
		return err
	}
	cube.SetRegionIndexes(idx...)
	for l, p := range pops {
		cube.SetPopulation(l, p)
	}
	if err := engine.Load(ctx, store); err != nil {
		return err
	}
	// Only now: a load that failed leaves the old version, so the next sync tries again.
	cube.setRegionsAt(v)
	return nil
}

// SyncCubeRegions brings the cube up to the regions table now: when a boundary changed
// (or a level came or went) it re-keys the cube (RekeyCube); when only their attributes
// changed (a population CSV) it swaps the cube's populations, with no reload; otherwise
// it reads one row. It answers what it did ("" for nothing). FollowCubeRegions calls it
// every interval, and the API's region imports before they answer, so that a query sent
// after an import's answer sees what it imported. Calls run one at a time. Returns
// EUNAVAILABLE when the database cannot be read.
func SyncCubeRegions(ctx context.Context, db *postgis.DB, cube *Cube, engine *Engine, store *crm.Store) (string, error) {
	cube.syncMu.Lock()
	defer cube.syncMu.Unlock()
	v, err := regionVersions(ctx, db)
	if err != nil {
		return "", err
	}
	cube.mu.RLock()
	seen := cube.regionsAt // zero for a cube not made by LoadCube: the first sync re-keys it
	cube.mu.RUnlock()
	switch {
	case v == seen:
		return "", nil
	case v.geom != seen.geom:
		return "cube re-keyed by the changed regions", RekeyCube(ctx, db, cube, engine, store)
	}
	// v was read before the populations: a change that commits meanwhile is seen again.
	for _, l := range cube.Levels() {
		p, err := LoadRegionPopulation(ctx, db, l)
		if err != nil {
			return "", err
		}
		cube.SetPopulation(l, p)
	}
	cube.setRegionsAt(v)
	return "cube populations reloaded", nil
}

// FollowCubeRegions syncs the cube with the regions (SyncCubeRegions) every interval until
// ctx ends, so that regions imported or changed while gcrm serves show in the cube without
// a restart, also when they come from the CLI or another replica. Errors are logged and
// retried at the next check.
func FollowCubeRegions(ctx context.Context, db *postgis.DB, cube *Cube, engine *Engine, store *crm.Store, log *slog.Logger, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		start := time.Now()
		what, err := SyncCubeRegions(ctx, db, cube, engine, store)
		if err != nil {
			if ctx.Err() == nil {
				log.Error("cube: following the changed regions failed; retrying", "err", err)
			}
			continue
		}
		if what != "" {
			log.Info(what, "levels", cube.Levels(), "ms", time.Since(start).Milliseconds())
		}
	}
}

// cubeRegionsVersion tells boundary changes (geom_rev, count) from any change (rev).
type cubeRegionsVersion struct{ geom, all [2]int64 }

func regionVersions(ctx context.Context, db *postgis.DB) (cubeRegionsVersion, error) {
	var v cubeRegionsVersion
	err := db.Pool.QueryRow(ctx, `SELECT coalesce(max(geom_rev), 0), coalesce(max(rev), 0), count(*) FROM regions`).
		Scan(&v.geom[0], &v.all[0], &v.geom[1])
	v.all[1] = v.geom[1]
	return v, postgis.Wrap(err)
}

func (c *Cube) setRegionsAt(v cubeRegionsVersion) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.regionsAt = v
}
