package web

import (
	"bytes"
	"compress/gzip"
	"container/list"
	"context"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/gcrm/gcrm/geo"
	"github.com/gcrm/gcrm/olap"
	"github.com/gcrm/gcrm/tiles"
	"github.com/go-chi/chi/v5"
	"github.com/paulmach/orb/geojson"
)

// RegionRoutes returns the region routes, for Server.Mounts:
//
//	GET /tiles/regions/{z}/{x}/{y}.mvt?level=L  vector tile, layer "regions" (code, name, level)
//	GET /tiles/regions.json?level=L             its TileJSON
//	GET /api/v1/regions                         the levels and their region counts
//	GET /api/v1/regions?level=L                 the regions of a level, without geometry
//	GET /api/v1/regions?q=TEXT                  regions of any level by name or code (the map's search)
//	GET /api/v1/regions/{level}/{code}          one region as a GeoJSON Feature
//	POST /api/v1/regions?level=L[&code_prop=P&name_prop=P&object=O&skip_invalid=true]
//	                                            import a GeoJSON/TopoJSON body (upsert by code)
//
// Tiles come from PostGIS (ST_AsMVT over geometry simplified per zoom band) through an
// in-memory LRU cache keyed by the regions' data version, so a new import shows at once
// and repeated tiles cost no query. Regions hold no personal data: every role sees all.
func (s *Server) RegionRoutes(store *olap.RegionStore) func(chi.Router) {
	h := &regionHandler{s: s, store: store, cache: newTileLRU(64 << 20)}
	return func(r chi.Router) {
		r.Get("/tiles/regions/{z}/{x}/{y}.mvt", h.tile)
		r.Get("/tiles/regions.json", h.tileJSON)
		r.Get("/api/v1/regions", h.list)
		r.Post("/api/v1/regions", h.importRegions)
		r.Get("/api/v1/regions/{level}/{code}", h.get)
	}
}

// maxRegionMatches is how many regions a search answers.
const maxRegionMatches = 6

type regionHandler struct {
	s     *Server
	store *olap.RegionStore
	cache *tileLRU

	mu      sync.Mutex
	version string // data version read at checked
	levels  map[string]bool
	checked time.Time
}

// versionTTL bounds how stale the data version may be: imports by another process (the
// CLI, another replica) show in tiles within this time.
const versionTTL = 2 * time.Second

// current returns the data version and the known levels, re-read at most every versionTTL.
func (h *regionHandler) current(ctx context.Context) (string, map[string]bool, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.levels != nil && time.Since(h.checked) < versionTTL {
		return h.version, h.levels, nil
	}
	v, err := h.store.RegionsVersion(ctx)
	if err != nil {
		return "", nil, err
	}
	if v != h.version || h.levels == nil {
		levels, err := h.store.Levels(ctx)
		if err != nil {
			return "", nil, err
		}
		h.levels = make(map[string]bool, len(levels))
		for _, l := range levels {
			h.levels[l.Level] = true
		}
		h.version = v
	}
	h.checked = time.Now()
	return h.version, h.levels, nil
}

// level returns the request's level parameter, checked against the stored levels.
func (h *regionHandler) level(r *http.Request) (string, string, error) {
	version, levels, err := h.current(r.Context())
	if err != nil {
		return "", "", err
	}
	level := r.URL.Query().Get("level")
	if level == "" || !levels[level] {
		names := make([]string, 0, len(levels))
		for l := range levels {
			names = append(names, l)
		}
		sort.Strings(names)
		known := "none are imported yet: run 'gcrm import regions' or 'gcrm demo'"
		if len(names) > 0 {
			known = "the levels are " + strings.Join(names, ", ")
		}
		if level == "" {
			return "", "", geo.Errorf(geo.EINVALID, "give the region level as ?level=…; %s", known)
		}
		if len(level) > 40 {
			level = level[:40] + "…"
		}
		return "", "", geo.Errorf(geo.EINVALID, "there is no region level %q; %s", level, known)
	}
	return level, version, nil
}

func (h *regionHandler) tile(w http.ResponseWriter, r *http.Request) {
	t, err := tiles.ParseTile(chi.URLParam(r, "z"), chi.URLParam(r, "x"), chi.URLParam(r, "y"))
	if err != nil {
		writeError(w, r, h.s.Log, err)
		return
	}
	level, version, err := h.level(r)
	if err != nil {
		writeError(w, r, h.s.Log, err)
		return
	}
	etag := `"rg-` + version + `"`
	w.Header().Set("Cache-Control", "public, max-age=300")
	w.Header().Set("Vary", "Accept-Encoding")
	if etagMatch(r.Header.Get("If-None-Match"), etag) {
		w.Header().Set("ETag", etag)
		w.WriteHeader(http.StatusNotModified)
		return
	}
	key := version + "|" + level + "|" + tiles.String(t)
	e := h.cache.get(key)
	if e == nil {
		body, err := h.store.RegionTile(r.Context(), level, t.Z, int(t.X), int(t.Y))
		if err != nil {
			writeError(w, r, h.s.Log, err)
			return
		}
		e = &tileEntry{key: key, body: body}
		h.cache.put(e)
	}
	writeBody(w, r, etag, mvtType, e.body, e.gzipped)
}

func (h *regionHandler) tileJSON(w http.ResponseWriter, r *http.Request) {
	level, _, err := h.level(r)
	if err != nil {
		writeError(w, r, h.s.Log, err)
		return
	}
	scheme := "http"
	if r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https" {
		scheme = "https"
	}
	w.Header().Set("Cache-Control", "no-cache")
	writeJSON(w, http.StatusOK, map[string]any{
		"tilejson": "3.0.0",
		"name":     "regions-" + level,
		"scheme":   "xyz",
		"tiles":    []string{scheme + "://" + r.Host + "/tiles/regions/{z}/{x}/{y}.mvt?level=" + level},
		"minzoom":  0,
		"maxzoom":  12, // geometry is full detail from zoom 10; clients overzoom past 12
		"vector_layers": []map[string]any{{
			"id": "regions", "minzoom": 0, "maxzoom": 12,
			"description": "Region boundaries of level " + level + ".",
			"fields":      map[string]string{"code": "String", "name": "String", "level": "String"},
		}},
	})
}

func (h *regionHandler) list(w http.ResponseWriter, r *http.Request) {
	if text := r.URL.Query().Get("q"); text != "" {
		if len(text) > 100 {
			writeError(w, r, h.s.Log, geo.Errorf(geo.EINVALID, "the search text is %d characters long: give at most 100", len(text)))
			return
		}
		list, err := h.store.SearchRegions(r.Context(), text, maxRegionMatches)
		if err != nil {
			writeError(w, r, h.s.Log, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"query": text, "regions": list})
		return
	}
	if r.URL.Query().Get("level") == "" {
		levels, err := h.store.Levels(r.Context())
		if err != nil {
			writeError(w, r, h.s.Log, err)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"levels": levels})
		return
	}
	level, _, err := h.level(r)
	if err != nil {
		writeError(w, r, h.s.Log, err)
		return
	}
	regions, err := h.store.FindRegions(r.Context(), level)
	if err != nil {
		writeError(w, r, h.s.Log, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"level": level, "regions": regions})
}

func (h *regionHandler) get(w http.ResponseWriter, r *http.Request) {
	ri, err := h.store.FindRegion(r.Context(), chi.URLParam(r, "level"), chi.URLParam(r, "code"))
	if err != nil {
		writeError(w, r, h.s.Log, err)
		return
	}
	f := geojson.NewFeature(ri.Geometry)
	f.ID = ri.Code
	f.BBox = geojson.BBox(ri.BBox)
	f.Properties = geojson.Properties{
		"id": ri.ID, "level": ri.Level, "code": ri.Code, "name": ri.Name,
		"area_m2": ri.AreaM2, "attributes": ri.Attributes,
	}
	w.Header().Set("Content-Type", "application/geo+json")
	w.Header().Set("Cache-Control", "public, max-age=300")
	b, err := f.MarshalJSON()
	if err != nil {
		writeError(w, r, h.s.Log, err)
		return
	}
	w.WriteHeader(http.StatusOK)
	w.Write(b)
}

// maxRegionUpload bounds an uploaded boundary file (the route's policy sets the same).
const maxRegionUpload = 256 << 20

// importRegions upserts the regions of an uploaded GeoJSON or TopoJSON file in one
// transaction (see olap.RegionStore.Import), then re-assigns customers to that level and
// re-keys the cube by it (Server.SyncRegions).
// Answers the import result: counts, repaired and skipped features, antimeridian splits.
func (h *regionHandler) importRegions(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	opt := olap.RegionReadOptions{Level: q.Get("level"), CodeProp: q.Get("code_prop"), NameProp: q.Get("name_prop"), Object: q.Get("object")}
	if err := olap.ValidRegionLevel(opt.Level); err != nil {
		writeError(w, r, h.s.Log, err)
		return
	}
	iopt := olap.RegionImportOptions{SkipUnrepairable: q.Get("skip_invalid") == "true"}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxRegionUpload))
	if err != nil {
		writeError(w, r, h.s.Log, geo.Errorf(geo.EINVALID, "cannot read the uploaded file (at most %d MB): %v", maxRegionUpload>>20, err))
		return
	}
	feats, err := olap.ReadRegionFeatures(data, opt)
	if err != nil {
		writeError(w, r, h.s.Log, err)
		return
	}
	res, err := h.store.ImportWith(r.Context(), opt.Level, feats, iopt)
	if err != nil {
		writeError(w, r, h.s.Log, err)
		return
	}
	h.mu.Lock()
	h.checked = time.Time{} // show the new regions in tiles at once
	h.mu.Unlock()
	st, err := olap.AssignLevel(r.Context(), h.store.DB, opt.Level)
	if err != nil {
		writeError(w, r, h.s.Log, err)
		return
	}
	h.s.syncRegions(r) // the cube re-keyed by the new boundaries before the answer
	writeJSON(w, http.StatusOK, map[string]any{"import": res, "assigned": st.Assigned, "unassigned": st.Unassigned})
}

// tileEntry is one cached tile; its gzip form is made on first demand.
type tileEntry struct {
	key  string
	body []byte
	once sync.Once
	gz   []byte
	elem *list.Element
}

func (e *tileEntry) gzipped() []byte {
	e.once.Do(func() {
		var b bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&b, gzip.BestSpeed)
		zw.Write(e.body)
		zw.Close()
		e.gz = b.Bytes()
	})
	return e.gz
}

func (e *tileEntry) size() int { return len(e.key) + 2*len(e.body) + 64 }

// tileLRU is a byte-bounded least-recently-used tile cache, safe for concurrent use.
// Entries of an old data version are never hit again and age out.
type tileLRU struct {
	mu    sync.Mutex
	max   int
	bytes int
	order *list.List // front = most recent
	items map[string]*tileEntry
}

func newTileLRU(maxBytes int) *tileLRU {
	return &tileLRU{max: maxBytes, order: list.New(), items: map[string]*tileEntry{}}
}

func (c *tileLRU) get(key string) *tileEntry {
	c.mu.Lock()
	defer c.mu.Unlock()
	e := c.items[key]
	if e != nil {
		c.order.MoveToFront(e.elem)
	}
	return e
}

func (c *tileLRU) put(e *tileEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if old := c.items[e.key]; old != nil {
		c.order.Remove(old.elem)
		c.bytes -= old.size()
	}
	e.elem = c.order.PushFront(e)
	c.items[e.key] = e
	c.bytes += e.size()
	for c.bytes > c.max && c.order.Len() > 1 {
		last := c.order.Back().Value.(*tileEntry)
		c.order.Remove(last.elem)
		delete(c.items, last.key)
		c.bytes -= last.size()
	}
}
