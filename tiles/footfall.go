package tiles

import (
	"context"
	"fmt"
	"strconv"

	"github.com/gcrm/gcrm/olap"
	"github.com/paulmach/orb/geojson"
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
	hl := newHexLayer(t)
	for _, v := range vals {
		cell, err := strconv.ParseUint(v.Cell, 16, 64)
		if err != nil {
			continue
		}
		hl.add(cell, geojson.Properties{"h3": v.Cell, "mean": v.Mean, "estimated": v.Estimated, "sensors": v.Sensors})
	}
	body, err := hl.encode(FootfallLayerName)
	if err != nil {
		return nil, err
	}
	r := &Rendered{Version: f.Fingerprint, Body: body, Stats: RenderStats{Features: len(hl.fc.Features)},
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
