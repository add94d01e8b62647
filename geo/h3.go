package geo

import (
	"math"

	"github.com/paulmach/orb"
	"github.com/uber/h3-go/v4"
)

// CellResolution is the H3 resolution stored with every record (≈0.9 m² cells): fine enough
// for street level; coarser cells are derived with Cell.Parent, never stored twice.
const CellResolution = 15

// Cell is an H3 cell index, stored as bigint in PostGIS.
type Cell = h3.Cell

// CellOf returns the H3 cell of p at resolution res (h3-go's latLngToCell, computed in Go:
// see latLngToCell).
func CellOf(p orb.Point, res int) Cell {
	return latLngToCell(p[1], p[0], res)
}

// ParentCell returns the cell containing c at resolution res (res ≤ c's resolution).
func ParentCell(c Cell, res int) Cell { return c.Parent(res) }

// ValidLonLat reports whether lon/lat are finite WGS84 degrees.
func ValidLonLat(lon, lat float64) bool {
	return !math.IsNaN(lon) && !math.IsNaN(lat) && lon >= -180 && lon <= 180 && lat >= -90 && lat <= 90
}
