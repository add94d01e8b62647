package tiles

import (
	"strconv"

	"github.com/gcrm/gcrm/geo"
	"github.com/gcrm/gcrm/olap"
)

// ParseTile parses the z, x and y of a tile URL and checks them: z within 0..olap.MaxZoom,
// x and y within 0..2^z-1. Returns EINVALID with a message naming the tile and the limit.
func ParseTile(z, x, y string) (olap.Tile, error) {
	name := z + "/" + x + "/" + y
	if len(name) > 64 {
		name = name[:64] + "…"
	}
	zi, err := strconv.Atoi(z)
	if err != nil || !digits(z) {
		return olap.Tile{}, geo.Errorf(geo.EINVALID, "tile %s: zoom %q is not a whole number", name, z)
	}
	if zi < 0 || zi > olap.MaxZoom {
		return olap.Tile{}, geo.Errorf(geo.EINVALID, "tile %s: zoom must be within 0..%d", name, olap.MaxZoom)
	}
	limit := int64(1)<<uint(zi) - 1
	parse := func(axis, s string) (uint32, error) {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil || !digits(s) {
			if digits(s) { // too many digits for int64: out of range all the same
				return 0, geo.Errorf(geo.EINVALID, "tile %s: %s must be within 0..%d at zoom %d", name, axis, limit, zi)
			}
			return 0, geo.Errorf(geo.EINVALID, "tile %s: %s %q is not a whole number", name, axis, s)
		}
		if v < 0 || v > limit {
			return 0, geo.Errorf(geo.EINVALID, "tile %s: %s must be within 0..%d at zoom %d", name, axis, limit, zi)
		}
		return uint32(v), nil
	}
	xi, err := parse("x", x)
	if err != nil {
		return olap.Tile{}, err
	}
	yi, err := parse("y", y)
	if err != nil {
		return olap.Tile{}, err
	}
	return olap.Tile{Z: zi, X: xi, Y: yi}, nil
}

// digits reports whether s is a non-empty run of ASCII digits (no sign, no spaces).
func digits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// String formats t as z/x/y.
func String(t olap.Tile) string {
	return strconv.Itoa(t.Z) + "/" + strconv.FormatUint(uint64(t.X), 10) + "/" + strconv.FormatUint(uint64(t.Y), 10)
}
