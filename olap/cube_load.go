package olap

import (
	"context"

	"github.com/gcrm/gcrm/geo/postgis"
)

// LoadCube returns an empty cube keyed by the region levels in the database (the first
// MaxCubeLevels, sorted) with their populations; set it as Engine.Observer before Load to
// fill it. Returns EUNAVAILABLE when the database cannot be read.
func LoadCube(ctx context.Context, db *postgis.DB) (*Cube, error) {
	idx, pops, v, err := loadCubeRegions(ctx, db) // cube_rekey.go
	if err != nil {
		return nil, err
	}
	c := NewCube(idx...)
	c.regionsAt = v
	for l, p := range pops {
		c.SetPopulation(l, p)
	}
	return c, nil
}
