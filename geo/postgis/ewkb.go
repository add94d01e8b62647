package postgis

import (
	"encoding/binary"
	"math"

	"github.com/twpayne/go-geom"
	"github.com/twpayne/go-geom/encoding/ewkb"
)

// Geometry values travel as (E)WKB bytes (Open registers the geometry type as bytea). Points
// are the hot path — millions of rows at engine load, region assignment and bulk import — so
// the plain 2D point has a hand-written codec; anything else is read with go-geom.

// EWKBPointLen is the length of the EWKB of a 2D point with an SRID.
const EWKBPointLen = 25

const (
	wkbPoint    = 1
	ewkbSRIDBit = 0x20000000
)

// AppendPoint appends lon/lat as a little-endian 2D EWKB point with SRID 4326 (WGS84), as
// the geometry type's binary input and ST_GeomFromEWKB read it.
func AppendPoint(b []byte, lon, lat float64) []byte {
	b = append(b, 1) // little-endian
	b = binary.LittleEndian.AppendUint32(b, ewkbSRIDBit|wkbPoint)
	b = binary.LittleEndian.AppendUint32(b, 4326)
	b = binary.LittleEndian.AppendUint64(b, math.Float64bits(lon))
	return binary.LittleEndian.AppendUint64(b, math.Float64bits(lat))
}

// Point decodes a point from (E)WKB: x (lon) and y (lat). ok is false for NULL (no bytes),
// an empty point, another shape, or bytes that are not (E)WKB. Points with Z or M are read
// through go-geom and keep only x and y.
func Point(b []byte) (x, y float64, ok bool) {
	if len(b) < 5 {
		return 0, 0, false
	}
	var order binary.ByteOrder = binary.LittleEndian
	if b[0] == 0 {
		order = binary.BigEndian
	}
	typ, off := order.Uint32(b[1:]), 5
	if typ&ewkbSRIDBit != 0 {
		typ, off = typ&^ewkbSRIDBit, off+4
	}
	if typ != wkbPoint || len(b) != off+16 {
		if !isPointType(typ) {
			return 0, 0, false
		}
		return slowPoint(b)
	}
	x, y = math.Float64frombits(order.Uint64(b[off:])), math.Float64frombits(order.Uint64(b[off+8:]))
	return x, y, !math.IsNaN(x) && !math.IsNaN(y)
}

// isPointType tells whether an (E)WKB type code (SRID bit cleared) is a point with Z or M,
// in EWKB flags or ISO codes: only those go to go-geom, so a stray polygon header cannot
// make it allocate rings of any claimed size.
func isPointType(typ uint32) bool {
	switch typ &^ (0x80000000 | 0x40000000) {
	case wkbPoint, 1000 + wkbPoint, 2000 + wkbPoint, 3000 + wkbPoint:
		return true
	}
	return false
}

func slowPoint(b []byte) (x, y float64, ok bool) {
	g, err := ewkb.Unmarshal(b)
	if err != nil {
		return 0, 0, false
	}
	p, isPoint := g.(*geom.Point)
	if !isPoint || p.Empty() {
		return 0, 0, false
	}
	x, y = p.X(), p.Y()
	return x, y, !math.IsNaN(x) && !math.IsNaN(y)
}
