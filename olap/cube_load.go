package olap

import (
	"context"

	"github.com/gcrm/gcrm/geo/postgis"
)

// LoadCube returns an empty cube keyed by the region levels in the database (the first
// MaxCubeLevels, sorted) with their populations; set it as Engine.Observer before Load to
// fill it. Returns EUNAVAILABLE when the database cannot be read.
func LoadCube(ctx context.Context, db *postgis.DB) (*Cube, error) {
	levels, err := RegionLevels(ctx, db)
	if err != nil {
		return nil, err
	}
	var idx []*RegionIndex
	for _, l := range levels {
		if len(idx) == MaxCubeLevels {
			break
		}
		ri, err := LoadRegionIndex(ctx, db, l)
		if err != nil {
			return nil, err
		}
		idx = append(idx, ri)
	}
	c := NewCube(idx...)
	for _, l := range c.Levels() {
		pops, err := LoadRegionPopulation(ctx, db, l)
		if err != nil {
			return nil, err
		}
		c.SetPopulation(l, pops)
	}
	return c, nil
}
