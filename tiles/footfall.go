package tiles

import (
	"context"
	"fmt"
	"strconv"

	"github.com/gcrm/gcrm/geo"
	"github.com/gcrm/gcrm/olap"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/mvt"
	"github.com/paulmach/orb/geojson"
	"github.com/paulmach/orb/maptile"
)

// FootfallLayerName is the MVT layer of footfall tiles.
const FootfallLayerName = "footfall"

// FootfallTiles renders the footfall layer: the footfall cells touching a tile as hexagon
// polygons with properties h3 (hexadecimal; use it as promoteId), mean (the mean hourly
// count for the chosen key, olap.Footfall.Query), estimated (true: no counting sensor in the
// cell, an inverse-distance estimate) and sensors (in the cell, or used by the estimate).
// The resolution follows the zoom (HexResForZoom) but is never finer than the sensors'
// (olap.Footfall.Res): past that zoom the hexagons stay the footfall cells. Footfall holds no
// personal data: every caller gets the same tile. Cached by the footfall's fingerprint.
type FootfallTiles struct {
	Source olap.FootfallSource
	Cache  *Cache
}

// NewFootfallTiles returns the layer on src with an 8 MB cache.
func NewFootfallTiles(src olap.FootfallSource) *FootfallTiles {
	return &FootfallTiles{Source: src, Cache: NewCache(8 << 20)}
}

// FootfallTileQuery is what a footfall tile shows: olap.FootfallAll (every hour, the
// default), or one hour-of-week, hour or date (How and Key as olap.FootfallQuery).
type FootfallTileQuery struct {
	How string
	Key string
}

// Tile renders tile t (nil body when empty). Returns EINVALID for a bad How or Key,
// EUNAVAILABLE when the footfall cannot be read.
func (l *FootfallTiles) Tile(ctx context.Context, t olap.Tile, q FootfallTileQuery) (*Rendered, error) {
	if q.How == "" {
		q.How = olap.FootfallAll
	}
	f, err := l.Source.Get(ctx)
	if err != nil {
		return nil, err
	}
	key := "ff|" + String(t) + "|" + q.How + "|" + q.Key
	if r, ok := l.Cache.Get(key, f.Fingerprint); ok {
		return r, nil
	}
	res := min(HexResForZoom(t.Z), f.Res)
	tb := tileBound(t)
	b := expand(tb, res)
	vals, err := f.Query(olap.FootfallQuery{How: q.How, Key: q.Key, Res: max(res, 0), Bound: &b, Estimates: true})
	if err != nil {
		return nil, err
	}
	bx, by := (tb.Max[0]-tb.Min[0])/16, (tb.Max[1]-tb.Min[1])/16
	clip := orb.Bound{Min: orb.Point{tb.Min[0] - bx, tb.Min[1] - by}, Max: orb.Point{tb.Max[0] + bx, tb.Max[1] + by}}
	fc := geojson.NewFeatureCollection()
	for _, v := range vals {
		cell, err := strconv.ParseUint(v.Cell, 16, 64)
		if err != nil {
			continue
		}
		ring := hexRing(geo.Cell(cell))
		if ring == nil || !ring.Bound().Intersects(clip) {
			continue
		}
		feat := geojson.NewFeature(orb.Polygon{ring})
		feat.Properties = geojson.Properties{"h3": v.Cell, "mean": v.Mean, "estimated": v.Estimated, "sensors": v.Sensors}
		fc.Append(feat)
	}
	var body []byte
	if len(fc.Features) > 0 {
		layer := mvt.NewLayer(FootfallLayerName, fc)
		layer.ProjectToTile(maptile.New(t.X, t.Y, maptile.Zoom(t.Z)))
		layer.Clip(mvt.MapboxGLDefaultExtentBound)
		if body, err = mvt.Marshal(mvt.Layers{layer}); err != nil {
			return nil, geo.Errorf(geo.EINTERNAL, "encode footfall tile %s: %v", String(t), err)
		}
	}
	r := &Rendered{Version: f.Fingerprint, Body: body, Stats: RenderStats{Features: len(fc.Features)},
		ETag: fmt.Sprintf(`"ff%x-%x"`, f.Fingerprint, fnvString(q.How+"|"+q.Key))}
	l.Cache.Put(key, r)
	return r, nil
}

func fnvString(s string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(s); i++ {
		h ^= uint32(s[i])
		h *= 16777619
	}
	return h
}
