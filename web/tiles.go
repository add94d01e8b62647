package web

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/gcrm/gcrm/crm"
	"github.com/gcrm/gcrm/geo"
	"github.com/gcrm/gcrm/olap"
	"github.com/gcrm/gcrm/tiles"
	"github.com/go-chi/chi/v5"
)

// CustomerTiles returns the routes of the customer tile layer, for Server.Mounts:
// GET /tiles/customers/{z}/{x}/{y}.mvt (filters kind, status, segment as comma lists)
// and its TileJSON at GET /tiles/customers.json. Tiles are limited to the caller's scope.
func (s *Server) CustomerTiles(svc *tiles.Service) func(chi.Router) {
	return func(r chi.Router) {
		r.Get("/tiles/customers/{z}/{x}/{y}.mvt", func(w http.ResponseWriter, r *http.Request) { s.customerTile(w, r, svc) })
		r.Get("/tiles/customers.json", func(w http.ResponseWriter, r *http.Request) { s.customerTileJSON(w, r, svc) })
	}
}

func (s *Server) customerTile(w http.ResponseWriter, r *http.Request, svc *tiles.Service) {
	t, err := tiles.ParseTile(chi.URLParam(r, "z"), chi.URLParam(r, "x"), chi.URLParam(r, "y"))
	if err != nil {
		writeError(w, r, s.Log, err)
		return
	}
	f, err := tileFilter(r.URL.Query())
	if err != nil {
		writeError(w, r, s.Log, err)
		return
	}
	f.Scope = scopeOf(r)
	tile := svc.Tile(t, f)
	writePrivateTile(w, r, tile.ETag, tile.Body, tile.Gzip)
}

// writePrivateTile answers a tile that depends on the caller's scope. Private for every
// scope: a tile is answered only to a signed-in caller, and "public" would let a shared
// cache hand an admin's tile to anyone. Revalidated every time (a 304 is cheap), so a write
// shows at once.
func writePrivateTile(w http.ResponseWriter, r *http.Request, etag string, body []byte, gz func() []byte) {
	w.Header().Set("Vary", "Accept-Encoding, Authorization, Cookie")
	w.Header().Set("Cache-Control", "private, no-cache")
	writeBody(w, r, etag, mvtType, body, gz)
}

const mvtType = "application/vnd.mapbox-vector-tile"

// tileFilter reads the kind, status and segment filters of a tile request.
func tileFilter(q url.Values) (olap.Filter, error) {
	var f olap.Filter
	for _, p := range []struct {
		name string
		dst  *[]string
	}{{"kind", &f.Kinds}, {"status", &f.Statuses}, {"segment", &f.Segments}} {
		if len(q[p.name]) > 1 {
			return f, geo.Errorf(geo.EINVALID, "give %s once, as a comma-separated list", p.name)
		}
		v := q.Get(p.name)
		if len(v) > 2000 {
			return f, geo.Errorf(geo.EINVALID, "the %s filter is too long (at most 2000 characters)", p.name)
		}
		*p.dst = splitList(v)
		if _, ok := q[p.name]; ok && len(*p.dst) == 0 {
			return f, geo.Errorf(geo.EINVALID, "%s is empty: give one or more values separated by commas, or leave it out", p.name)
		}
	}
	for _, k := range f.Kinds {
		if crm.KindCode(k) < 0 {
			return f, geo.Errorf(geo.EINVALID, "kind %q is not one of %s", k, strings.Join(crm.Kinds, ", "))
		}
	}
	return f, nil
}

// customerTileJSON describes the layer (TileJSON 3.0), with the request's filters carried
// into the tile URL.
func (s *Server) customerTileJSON(w http.ResponseWriter, r *http.Request, svc *tiles.Service) {
	q := r.URL.Query()
	if _, err := tileFilter(q); err != nil {
		writeError(w, r, s.Log, err)
		return
	}
	keep := url.Values{}
	for _, name := range []string{"kind", "status", "segment"} {
		if v, ok := q[name]; ok {
			keep[name] = v
		}
	}
	scheme := "http"
	if r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https" {
		scheme = "https"
	}
	u := scheme + "://" + r.Host + "/tiles/customers/{z}/{x}/{y}.mvt"
	if len(keep) > 0 {
		u += "?" + keep.Encode()
	}
	l := svc.Layer
	w.Header().Set("Cache-Control", "no-cache")
	writeJSON(w, http.StatusOK, map[string]any{
		"tilejson": "3.0.0",
		"name":     "customers",
		"scheme":   "xyz",
		"tiles":    []string{u},
		"minzoom":  0,
		"maxzoom":  olap.MaxZoom,
		"bounds":   []float64{-180, -olap.MaxLat, 180, olap.MaxLat},
		"vector_layers": []map[string]any{{
			"id": tiles.LayerName, "minzoom": 0, "maxzoom": olap.MaxZoom,
			"description": "Customers, prospects and leads. Up to zoom " + strconv.Itoa(l.ClusterMaxZoom) +
				" points are clustered on a grid: a cluster has cluster=true and count (exact); a single point has count 1.",
			"fields": map[string]string{
				"id": "Number", "kind": "String", "status": "String", "segment": "String",
				"count": "Number", "cluster": "Boolean",
			},
		}},
	})
}
