package tiles

import (
	"math/bits"
	"sync"

	"github.com/gcrm/gcrm/geo"
	"github.com/gcrm/gcrm/olap"
)

// LayerName is the MVT layer of customer points.
const LayerName = "customers"

// Keys of the customers layer, in encoding order.
var customerKeys = []string{"id", "kind", "status", "segment", "count", "cluster"}

const (
	keyID = iota
	keyKind
	keyStatus
	keySegment
	keyCount
	keyCluster
)

// Customers renders the customers layer from engine snapshots.
//
// Up to ClusterMaxZoom a tile is clustered on a 2^GridLevels grid: a cell holding one
// point yields that point, a cell holding more yields a cluster feature (cluster=true,
// count, id from ClusterID) at the points' centroid. Counts are exact and every point is in
// exactly one tile, so the counts of a tile add up to the customers in it. Deeper, every
// point is a feature (count 1), plus the points within Buffer of the edge, as PostGIS tile
// servers do. Point features carry id, kind, status, segment and count; their feature id is
// the record id.
type Customers struct {
	Extent         int // tile extent, a power of two (4096)
	Buffer         int // edge buffer at point zooms, Extent/2^k or 0 (256)
	ClusterMaxZoom int // deepest clustered zoom (12)
	GridLevels     int // clustering grid is 2^GridLevels cells a side (6: 64×64)

	pool sync.Pool
}

// NewCustomers returns the layer with the defaults (extent 4096, buffer 256, clusters up
// to zoom 12 on a 64×64 grid).
func NewCustomers() *Customers {
	return &Customers{Extent: 4096, Buffer: 256, ClusterMaxZoom: 12, GridLevels: 6}
}

// Check returns EINVALID when the layer's settings cannot work together.
func (l *Customers) Check() error {
	switch {
	case l.Extent < 256 || l.Extent > 1<<16 || l.Extent&(l.Extent-1) != 0:
		return geo.Errorf(geo.EINVALID, "tile extent %d must be a power of two within 256..65536", l.Extent)
	case l.Buffer != 0 && (l.Buffer > l.Extent/2 || l.Extent%l.Buffer != 0 || (l.Extent/l.Buffer)&(l.Extent/l.Buffer-1) != 0):
		return geo.Errorf(geo.EINVALID, "tile buffer %d must be 0 or the extent divided by a power of two", l.Buffer)
	case l.GridLevels < 1 || l.GridLevels > 8:
		return geo.Errorf(geo.EINVALID, "cluster grid levels %d must be within 1..8", l.GridLevels)
	case l.ClusterMaxZoom < -1 || l.ClusterMaxZoom+l.GridLevels > 20:
		return geo.Errorf(geo.EINVALID, "cluster max zoom %d plus grid levels %d must be at most 20", l.ClusterMaxZoom, l.GridLevels)
	}
	return nil
}

// Clustered reports whether tiles at zoom z are clustered.
func (l *Customers) Clustered(z int) bool { return z <= l.ClusterMaxZoom }

// RenderStats says what a rendered tile holds.
type RenderStats struct {
	Features int // features encoded
	Points   int // customers inside the tile (the sum of the counts)
	Buffered int // extra points from the edge buffer
}

type renderer struct {
	enc             *encoder
	cells           []olap.GridCell
	kindIdx         [4]int32
	status, segment codeCache
	tags            []uint32
	one             uint32
}

// codeCache maps dictionary codes to value indexes of the tile being encoded.
type codeCache struct {
	idx  []int32
	used []uint32
}

func (c *codeCache) get(code uint32, add func() uint32) uint32 {
	if int(code) >= len(c.idx) {
		n := len(c.idx)
		c.idx = append(c.idx, make([]int32, int(code)+1-n)...)
		for i := n; i < len(c.idx); i++ {
			c.idx[i] = -1
		}
	}
	if v := c.idx[code]; v >= 0 {
		return uint32(v)
	}
	v := add()
	c.idx[code] = int32(v)
	c.used = append(c.used, code)
	return v
}

func (c *codeCache) reset() {
	for _, code := range c.used {
		c.idx[code] = -1
	}
	c.used = c.used[:0]
}

// Render encodes tile t of snapshot s with the points m selects. The returned bytes are
// the caller's; an empty tile is nil (as ST_AsMVT returns for no rows).
func (l *Customers) Render(s *olap.Snapshot, t olap.Tile, m *olap.Match) ([]byte, RenderStats) {
	r, _ := l.pool.Get().(*renderer)
	if r == nil {
		r = &renderer{enc: newEncoder()}
	}
	defer l.pool.Put(r)
	r.enc.reset(customerKeys)
	r.kindIdx = [4]int32{-1, -1, -1, -1}
	r.status.reset()
	r.segment.reset()
	r.one = r.enc.uint(1, true)
	var st RenderStats
	ebits := bits.TrailingZeros(uint(l.Extent))
	ox, oy := t.Origin()
	shift := 32 - t.Z - ebits
	local := func(v, o uint32) int32 {
		d := int64(v) - int64(o)
		if shift >= 0 {
			return int32(d >> uint(shift))
		}
		return int32(d << uint(-shift))
	}
	point := func(row *olap.Row, x, y int32) {
		e := r.enc
		kind := r.kindIdx[row.Kind&3]
		if kind < 0 {
			kind = int32(e.str(s.Kind(row.Kind)))
			r.kindIdx[row.Kind&3] = kind
		}
		status := r.status.get(row.Status, func() uint32 { return e.str(s.Status(row.Status)) })
		segment := r.segment.get(row.Segment, func() uint32 { return e.str(s.Segment(row.Segment)) })
		r.tags = append(r.tags[:0], keyID, e.uint(uint64(row.ID), false), keyKind, uint32(kind),
			keyStatus, status, keySegment, segment, keyCount, r.one)
		e.point(uint64(row.ID), x, y, r.tags)
	}
	if l.Clustered(t.Z) {
		levels := l.GridLevels
		n := 1 << (2 * levels)
		if cap(r.cells) < n {
			r.cells = make([]olap.GridCell, n)
		}
		cells := r.cells[:n]
		s.Grid(t, levels, m, cells)
		for i := range cells {
			c := &cells[i]
			if c.Count == 0 {
				continue
			}
			st.Points += c.Count
			if c.Count == 1 {
				point(&c.First, local(c.First.X, ox), local(c.First.Y, oy))
				continue
			}
			cx, cy := ox+uint32(c.SumX/uint64(c.Count)), oy+uint32(c.SumY/uint64(c.Count))
			r.tags = append(r.tags[:0], keyCount, r.enc.uint(uint64(c.Count), true), keyCluster, r.enc.boolTrue())
			r.enc.point(ClusterID(t, levels, uint32(i&(1<<levels-1)), uint32(i>>levels)), local(cx, ox), local(cy, oy), r.tags)
		}
		clear(cells)
	} else {
		s.Each(t, m, func(row *olap.Row) {
			st.Points++
			point(row, local(row.X, ox), local(row.Y, oy))
		})
		if l.Buffer > 0 {
			levels := bits.TrailingZeros(uint(l.Extent / l.Buffer))
			s.EachBuffer(t, levels, m, func(row *olap.Row) {
				st.Buffered++
				point(row, local(row.X, ox), local(row.Y, oy))
			})
		}
	}
	st.Features = r.enc.n
	b := r.enc.finish(LayerName, uint32(l.Extent))
	if b == nil {
		return nil, st
	}
	return append([]byte(nil), b...), st
}

const clusterFlag = 1 << 52

// ClusterID is the feature id of the cluster in grid cell cx, cy of tile t: the cell as a
// tile at zoom t.Z+levels, packed below 2^53 (exact in JavaScript) and above any record
// id. A map zooms into a cluster by fitting the bounds of ClusterCell(id).
func ClusterID(t olap.Tile, levels int, cx, cy uint32) uint64 {
	z := t.Z + levels
	return clusterFlag | uint64(z)<<40 | uint64(t.X<<uint(levels)|cx)<<20 | uint64(t.Y<<uint(levels)|cy)
}

// ClusterCell returns the grid cell (as a tile) of a cluster feature id, and false for a
// record id.
func ClusterCell(id uint64) (olap.Tile, bool) {
	if id&clusterFlag == 0 || id>>53 != 0 {
		return olap.Tile{}, false
	}
	return olap.Tile{Z: int(id >> 40 & 0xfff), X: uint32(id >> 20 & 0xfffff), Y: uint32(id & 0xfffff)}, true
}
