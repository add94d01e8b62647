package tiles

import (
	"fmt"
	"hash/fnv"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/gcrm/gcrm/crm"
	"github.com/gcrm/gcrm/geo"
	"github.com/gcrm/gcrm/olap"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/mvt"
	"github.com/paulmach/orb/geojson"
	"github.com/paulmach/orb/maptile"
	"github.com/uber/h3-go/v4"
)

// HexLayerName is the MVT layer of hexagon tiles.
const HexLayerName = "hexagons"

// hexRes is the H3 resolution of hexagon tiles by zoom: about 20 hexagons across a tile.
var hexRes = [olap.MaxZoom + 1]int{0, 0, 1, 1, 2, 3, 3, 4, 5, 5, 6, 7, 7, 8, 9, 9, 10, 11, 11, 12, 13, 13, 14}

// HexResForZoom returns the H3 resolution of the hexagons of a zoom-z tile.
func HexResForZoom(z int) int { return hexRes[max(0, min(z, olap.MaxZoom))] }

// Hexagons renders the hexagons layer from the cube: every H3 cell (at HexResForZoom)
// that has records and touches the tile, as a polygon with properties h3 (the cell,
// hexadecimal: use it as MapLibre's promoteId), count (records) and the chosen measure.
// Counts come from the cube with the same scope and filters as the customer tiles, and
// each record is in exactly one hexagon, so the hexagons of an area add up to the
// customer tiles' counts of it. A hexagon is whole in every tile it touches (the renderer
// clips it). Cells crossing the antimeridian are left out.
type Hexagons struct {
	Cube   *olap.Cube
	Engine *olap.Engine
	Cache  *Cache
}

// NewHexagons returns the layer on cube and engine with a 32 MB cache.
func NewHexagons(cube *olap.Cube, engine *olap.Engine) *Hexagons {
	return &Hexagons{Cube: cube, Engine: engine, Cache: NewCache(32 << 20)}
}

// HexQuery is what a hexagon tile shows: a cube measure ("" for records only), cube
// filters and the caller's scope.
type HexQuery struct {
	Measure string
	Filters []olap.CubeFilter
	Scope   crm.Scope
	Salt    string // more of the cache key: what the measure depends on beside the cube (footfall)
}

func (q *HexQuery) key() string {
	var b strings.Builder
	b.WriteString(q.Measure + ";" + q.Scope.Key() + ";" + q.Salt + ";")
	for _, f := range q.Filters {
		v := slices.Clone(f.Values)
		slices.Sort(v)
		b.WriteString(f.Dim.String() + "=" + strings.Join(v, "\x1f") + ";")
	}
	return b.String()
}

// Tile renders tile t (nil body when empty). Returns EINVALID for an unknown measure or
// filter.
func (h *Hexagons) Tile(t olap.Tile, q HexQuery) (*Rendered, error) {
	version := h.Cube.Version()
	qkey := q.key()
	key := "hex|" + String(t) + "|" + qkey
	if r, ok := h.Cache.Get(key, version); ok {
		return r, nil
	}
	body, n, err := h.render(t, q)
	if err != nil {
		return nil, err
	}
	hs := fnv.New64a()
	hs.Write([]byte(qkey))
	r := &Rendered{Version: version, Body: body, Stats: RenderStats{Features: n},
		ETag: fmt.Sprintf(`"h%x-%x-%x"`, h.Engine.Epoch(), version, hs.Sum64()&0xffffffff)}
	h.Cache.Put(key, r)
	return r, nil
}

// tileBound returns the lon/lat bounds of t.
func tileBound(t olap.Tile) orb.Bound {
	ox, oy := t.Origin()
	w, n := olap.Unproject(ox, oy)
	size := uint64(1) << uint(32-t.Z)
	ex, ey := uint64(ox)+size, uint64(oy)+size
	e, s := 180.0, -olap.MaxLat
	if ex < 1<<32 {
		e, _ = olap.Unproject(uint32(ex), 0)
	}
	if ey < 1<<32 {
		_, s = olap.Unproject(0, uint32(ey))
	}
	return orb.Bound{Min: orb.Point{w, s}, Max: orb.Point{e, n}}
}

// expand grows b by about two hexagon diameters at res (in degrees, wider in longitude
// towards the poles), so that every cell touching b lies inside.
func expand(b orb.Bound, res int) orb.Bound {
	d := 4 * h3.HexagonEdgeLengthAvgKm(res) / 111.0
	lat := math.Min(85, math.Max(math.Abs(b.Min[1]), math.Abs(b.Max[1]))+d)
	dx := d / math.Cos(lat*math.Pi/180)
	return orb.Bound{Min: orb.Point{math.Max(-180, b.Min[0]-dx), math.Max(-90, b.Min[1]-d)},
		Max: orb.Point{math.Min(180, b.Max[0]+dx), math.Min(90, b.Max[1]+d)}}
}

func (h *Hexagons) render(t olap.Tile, hq HexQuery) ([]byte, int, error) {
	res := HexResForZoom(t.Z)
	measures := []string{"records"}
	if hq.Measure != "" && hq.Measure != "records" {
		measures = append(measures, hq.Measure)
	}
	q := &olap.CubeQuery{Measures: measures, By: []olap.CubeDim{{Name: "h3", Res: res}}, Filters: hq.Filters, Scope: hq.Scope}
	tb := tileBound(t)
	if res > olap.CubeRes {
		// From the points: every point of every cell touching the tile.
		b := expand(tb, res)
		q.Bound = &b
	} else if t.Z > 3 {
		// From the cube: the cells under a few coarser cells that cover the tile.
		coarse := max(0, res-2)
		b := expand(tb, coarse)
		if b.Max[0]-b.Min[0] < 180 {
			loop := h3.GeoLoop{{Lat: b.Min[1], Lng: b.Min[0]}, {Lat: b.Min[1], Lng: b.Max[0]}, {Lat: b.Max[1], Lng: b.Max[0]}, {Lat: b.Max[1], Lng: b.Min[0]}}
			var cells []string
			for _, c := range h3.PolygonToCells(h3.GeoPolygon{GeoLoop: loop}, coarse) {
				cells = append(cells, strconv.FormatUint(uint64(c), 16))
			}
			if len(cells) == 0 {
				return nil, 0, nil
			}
			q.Filters = append(slices.Clip(q.Filters), olap.CubeFilter{Dim: olap.CubeDim{Name: "h3"}, Values: cells})
		}
	}
	res2, err := h.Cube.Query(q, h.Engine.Snapshot())
	if err != nil {
		return nil, 0, err
	}
	defer res2.Release()
	hl := newHexLayer(t)
	var row []olap.CubeValue
	for i := range res2.Len() {
		row = res2.AppendRow(row[:0], i)
		cell, ok := row[0].Cell() // a number, or a text when footfall made the rows
		if !ok {
			continue
		}
		props := geojson.Properties{"h3": strconv.FormatUint(cell, 16), "count": propValue(row[1])}
		if len(measures) > 1 {
			if v := propValue(row[2]); v != nil {
				props[hq.Measure] = v
			}
		}
		hl.add(cell, props)
	}
	body, err := hl.encode(HexLayerName)
	return body, len(hl.fc.Features), err
}

// hexLayer gathers the hexagons of one tile: those whose bounds touch the tile with its
// 1/16 edge buffer (each hexagon whole, so its count is never split between tiles).
type hexLayer struct {
	t    olap.Tile
	clip orb.Bound
	fc   *geojson.FeatureCollection
}

func newHexLayer(t olap.Tile) *hexLayer {
	tb := tileBound(t)
	bx, by := (tb.Max[0]-tb.Min[0])/16, (tb.Max[1]-tb.Min[1])/16
	clip := orb.Bound{Min: orb.Point{tb.Min[0] - bx, tb.Min[1] - by}, Max: orb.Point{tb.Max[0] + bx, tb.Max[1] + by}}
	return &hexLayer{t: t, clip: clip, fc: geojson.NewFeatureCollection()}
}

// add appends the hexagon of H3 cell with props when it touches the tile; a bad index or
// a hexagon across the antimeridian is left out.
func (l *hexLayer) add(cell uint64, props geojson.Properties) {
	ring := hexRing(geo.Cell(cell))
	if ring == nil || !ring.Bound().Intersects(l.clip) {
		return
	}
	f := geojson.NewFeature(orb.Polygon{ring})
	f.Properties = props
	l.fc.Append(f)
}

// encode returns the layer as an MVT tile body, nil when it holds no hexagon.
func (l *hexLayer) encode(name string) ([]byte, error) {
	if len(l.fc.Features) == 0 {
		return nil, nil
	}
	layer := mvt.NewLayer(name, l.fc)
	layer.ProjectToTile(maptile.New(l.t.X, l.t.Y, maptile.Zoom(l.t.Z)))
	layer.Clip(mvt.MapboxGLDefaultExtentBound)
	body, err := mvt.Marshal(mvt.Layers{layer})
	if err != nil {
		return nil, geo.Errorf(geo.EINTERNAL, "encode %s tile %s: %v", name, String(l.t), err)
	}
	return body, nil
}

// hexRing returns the boundary of c as a closed ring in lon/lat, or nil when it crosses
// the antimeridian.
func hexRing(c geo.Cell) orb.Ring {
	b := h3.CellToBoundary(c)
	ring := make(orb.Ring, 0, len(b)+1)
	lo, hi := 180.0, -180.0
	for _, p := range b {
		ring = append(ring, orb.Point{p.Lng, p.Lat})
		lo, hi = math.Min(lo, p.Lng), math.Max(hi, p.Lng)
	}
	if hi-lo > 180 || len(ring) == 0 {
		return nil
	}
	ring = append(ring, ring[0])
	if ring.Orientation() == orb.CW { // outer rings counter-clockwise in lon/lat (clockwise in tile space)
		slices.Reverse(ring)
	}
	return ring
}

// propValue turns a cube measure value into a tile property (nil: none).
func propValue(v olap.CubeValue) any {
	switch v.Kind {
	case olap.CubeInt:
		return v.Int()
	case olap.CubeFloat:
		return v.Float()
	case olap.CubeCents: // revenue
		return float64(v.Int()) / 100
	}
	return nil
}
