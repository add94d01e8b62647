package postgis

import (
	"encoding/binary"
	"math"
	"testing"

	"github.com/twpayne/go-geom"
	"github.com/twpayne/go-geom/encoding/ewkb"
)

func TestPointCodec(t *testing.T) {
	for _, c := range [][2]float64{{-97.75, 30.25}, {180, -90}, {-180, 90}, {0, 0}, {151.2093, -33.8688}} {
		b := AppendPoint(nil, c[0], c[1])
		if len(b) != EWKBPointLen {
			t.Fatalf("%v: %d bytes", c, len(b))
		}
		// go-geom reads what we write…
		g, err := ewkb.Unmarshal(b)
		if err != nil {
			t.Fatal(err)
		}
		if p := g.(*geom.Point); p.X() != c[0] || p.Y() != c[1] || p.SRID() != 4326 {
			t.Fatalf("go-geom read %v srid %d, want %v", p.FlatCoords(), p.SRID(), c)
		}
		// …and we read what go-geom writes, in both byte orders, with and without Z/M or SRID.
		for _, p := range []*geom.Point{
			geom.NewPointFlat(geom.XY, []float64{c[0], c[1]}),
			geom.NewPointFlat(geom.XY, []float64{c[0], c[1]}).SetSRID(4326),
			geom.NewPointFlat(geom.XYZ, []float64{c[0], c[1], 12}).SetSRID(4326),
			geom.NewPointFlat(geom.XYZM, []float64{c[0], c[1], 12, 3}),
		} {
			for _, order := range []binary.ByteOrder{binary.LittleEndian, binary.BigEndian} {
				w, err := ewkb.Marshal(p, order)
				if err != nil {
					t.Fatal(err)
				}
				if x, y, ok := Point(w); !ok || x != c[0] || y != c[1] {
					t.Errorf("Point(%x) = %v %v %v, want %v", w, x, y, ok, c)
				}
			}
		}
	}
	empty, err := ewkb.Marshal(geom.NewPointEmpty(geom.XY), binary.LittleEndian)
	if err != nil {
		t.Fatal(err)
	}
	line, err := ewkb.Marshal(geom.NewLineStringFlat(geom.XY, []float64{0, 0, 1, 1}), binary.LittleEndian)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range [][]byte{nil, {1}, empty, line, AppendPoint(nil, math.NaN(), 1), AppendPoint(nil, 1, 2)[:20]} {
		if x, y, ok := Point(b); ok {
			t.Errorf("Point(%x) = %v %v, want not ok", b, x, y)
		}
	}
}

// FuzzPoint: any bytes decode without panic, and when they are a point header that go-geom
// reads as a non-empty point, Point reads the same x and y. (go-geom is not given other
// shapes: a polygon header claiming 2^32 rings makes it allocate without end.)
func FuzzPoint(f *testing.F) {
	f.Add(AppendPoint(nil, -97.75, 30.25))
	f.Add([]byte{0, 0, 0, 0, 1, 0x40, 0, 0, 0, 0, 0, 0, 0, 0x40, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		x, y, ok := Point(b)
		if len(b) < 5 {
			return
		}
		var order binary.ByteOrder = binary.LittleEndian
		if b[0] == 0 {
			order = binary.BigEndian
		}
		if !isPointType(order.Uint32(b[1:]) &^ ewkbSRIDBit) {
			return
		}
		g, err := ewkb.Unmarshal(b)
		p, isPoint := g.(*geom.Point)
		if err != nil || !isPoint || p.Empty() || math.IsNaN(p.X()) || math.IsNaN(p.Y()) {
			return
		}
		if !ok || x != p.X() || y != p.Y() {
			t.Fatalf("Point(%x) = %v %v %v; go-geom reads %v", b, x, y, ok, p.FlatCoords())
		}
	})
}
