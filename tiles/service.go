package tiles

import (
	"fmt"
	"hash/fnv"
	"slices"
	"strings"

	"github.com/gcrm/gcrm/olap"
)

// Service answers customer tiles from the engine through the cache.
type Service struct {
	Engine *olap.Engine
	Layer  *Customers
	Cache  *Cache
}

// NewService returns a service on engine with the default layer and a 64 MB cache.
func NewService(engine *olap.Engine) *Service {
	return &Service{Engine: engine, Layer: NewCustomers(), Cache: NewCache(64 << 20)}
}

// Tile returns tile t with the points f selects, from the cache when nothing in or near
// it changed since it was rendered.
func (s *Service) Tile(t olap.Tile, f olap.Filter) *Rendered {
	// The tile version is read before the snapshot: content is then at least as new as
	// the version it is cached under.
	version := s.Engine.TileVersion(t)
	fkey := FilterKey(f)
	key := String(t) + "|" + fkey
	if r, ok := s.Cache.Get(key, version); ok {
		return r
	}
	snap := s.Engine.Snapshot()
	body, st := s.Layer.Render(snap, t, snap.Compile(f))
	h := fnv.New64a()
	h.Write([]byte(fkey))
	r := &Rendered{Version: version, Body: body, Stats: st,
		ETag: fmt.Sprintf(`"%x-%x-%x"`, s.Engine.Epoch(), version, h.Sum64()&0xffffffff)}
	s.Cache.Put(key, r)
	return r
}

// FilterKey identifies the scope and filters of f for caches ("" for everything).
func FilterKey(f olap.Filter) string {
	var b strings.Builder
	list := func(name string, vs []string) {
		if len(vs) == 0 {
			return
		}
		vs = slices.Clone(vs)
		slices.Sort(vs)
		b.WriteString(name + "=" + strings.Join(slices.Compact(vs), "\x1f") + ";")
	}
	if k := f.Scope.Key(); k != "" {
		b.WriteString("scope=" + k + ";")
	}
	list("kind", f.Kinds)
	list("status", f.Statuses)
	list("segment", f.Segments)
	return b.String()
}
