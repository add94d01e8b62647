package olap

import "math"

// MaxLat is the latitude web-mercator tiles stop at; points beyond are clamped to the edge.
const MaxLat = 85.05112877980659

const worldUnits = 1 << 32

// Project returns p's web-mercator position as 32-bit integers: x grows east from
// longitude -180, y grows south from latitude MaxLat (the tile convention).
func Project(lon, lat float64) (x, y uint32) {
	fx := (lon + 180) / 360 * worldUnits
	if lat > MaxLat {
		lat = MaxLat
	} else if lat < -MaxLat {
		lat = -MaxLat
	}
	s := math.Sin(lat * math.Pi / 180)
	fy := (0.5 - math.Log((1+s)/(1-s))/(4*math.Pi)) * worldUnits
	return clamp32(fx), clamp32(fy)
}

// Unproject is the inverse of Project (to the precision of the integer grid).
func Unproject(x, y uint32) (lon, lat float64) {
	lon = float64(x)/worldUnits*360 - 180
	n := math.Pi * (1 - 2*float64(y)/worldUnits)
	lat = math.Atan(math.Sinh(n)) * 180 / math.Pi
	return lon, lat
}

func clamp32(f float64) uint32 {
	switch {
	case !(f >= 0): // also NaN
		return 0
	case f >= worldUnits-1:
		return worldUnits - 1
	}
	return uint32(f)
}

// spread puts the bits of v at the even positions of a uint64.
func spread(v uint32) uint64 {
	x := uint64(v)
	x = (x | x<<16) & 0x0000FFFF0000FFFF
	x = (x | x<<8) & 0x00FF00FF00FF00FF
	x = (x | x<<4) & 0x0F0F0F0F0F0F0F0F
	x = (x | x<<2) & 0x3333333333333333
	x = (x | x<<1) & 0x5555555555555555
	return x
}

// Morton returns the space-filling key of a position: x and y bits interleaved, y higher,
// so its top 2z bits are the quadkey of the zoom-z tile holding it.
func Morton(x, y uint32) uint64 { return spread(x) | spread(y)<<1 }

// Tile is a web-mercator tile address (y grows south). Valid zooms are 0..MaxZoom.
type Tile struct {
	Z    int
	X, Y uint32
}

// MaxZoom is the deepest zoom the engine answers.
const MaxZoom = 22

// keyRange returns the inclusive Morton key range of t.
func (t Tile) keyRange() (lo, hi uint64) {
	s := uint(32 - t.Z)
	lo = Morton(t.X<<s, t.Y<<s)
	if t.Z == 0 {
		return 0, math.MaxUint64
	}
	return lo, lo + (uint64(1) << (2 * s)) - 1
}

// Origin returns the world position of t's north-west corner.
func (t Tile) Origin() (x, y uint32) {
	if t.Z == 0 {
		return 0, 0
	}
	s := uint(32 - t.Z)
	return t.X << s, t.Y << s
}

// Contains reports whether the world position x, y lies in t.
func (t Tile) Contains(x, y uint32) bool {
	if t.Z == 0 {
		return true
	}
	s := uint(32 - t.Z)
	return x>>s == t.X && y>>s == t.Y
}
