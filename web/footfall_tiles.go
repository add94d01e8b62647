package web

import (
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/gcrm/gcrm/geo"
	"github.com/gcrm/gcrm/olap"
	"github.com/gcrm/gcrm/tiles"
	"github.com/go-chi/chi/v5"
)

// FootfallTiles returns the footfall tile routes, for Server.Mounts:
//
//	GET /tiles/footfall/{z}/{x}/{y}.mvt?how=hour-of-week&key=32
//	GET /tiles/footfall.json?how=…&key=…   its TileJSON
//
// Layer "footfall": the footfall cells (measured and estimated) as hexagons with properties
// h3, mean (mean hourly count), estimated and sensors (tiles.FootfallTiles). how is all
// (every hour, the default), hour-of-week (key 0..167, 0 = Monday 00:00 local time), hour
// (key 0..23) or date (key 2019-01-31). ETag, 304 and gzip like the other tiles.
func (s *Server) FootfallTiles(l *tiles.FootfallTiles) func(chi.Router) {
	return func(r chi.Router) {
		r.Get("/tiles/footfall/{z}/{x}/{y}.mvt", func(w http.ResponseWriter, r *http.Request) {
			t, err := tiles.ParseTile(chi.URLParam(r, "z"), chi.URLParam(r, "x"), chi.URLParam(r, "y"))
			if err != nil {
				writeError(w, r, s.Log, err)
				return
			}
			q, err := parseFootfallTileQuery(r.URL.Query())
			if err != nil {
				writeError(w, r, s.Log, err)
				return
			}
			tile, err := l.Tile(r.Context(), t, q)
			if err != nil {
				writeError(w, r, s.Log, err)
				return
			}
			w.Header().Set("Vary", "Accept-Encoding")
			w.Header().Set("Cache-Control", "private, no-cache")
			writeBody(w, r, tile.ETag, mvtType, tile.Body, tile.Gzip)
		})
		r.Get("/tiles/footfall.json", func(w http.ResponseWriter, r *http.Request) {
			q, err := parseFootfallTileQuery(r.URL.Query())
			if err != nil {
				writeError(w, r, s.Log, err)
				return
			}
			scheme := "http"
			if r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https" {
				scheme = "https"
			}
			u := scheme + "://" + r.Host + "/tiles/footfall/{z}/{x}/{y}.mvt"
			if q.How != "" {
				u += "?" + url.Values{"how": {q.How}, "key": {q.Key}}.Encode()
			}
			w.Header().Set("Cache-Control", "no-cache")
			writeJSON(w, http.StatusOK, map[string]any{
				"tilejson": "3.0.0", "name": "footfall", "scheme": "xyz", "tiles": []string{u},
				"minzoom": 0, "maxzoom": olap.MaxZoom, "bounds": []float64{-180, -olap.MaxLat, 180, olap.MaxLat},
				"vector_layers": []map[string]any{{
					"id": tiles.FootfallLayerName, "minzoom": 0, "maxzoom": olap.MaxZoom,
					"description": "Footfall cells: mean hourly count of pedestrians for the chosen hours; estimated cells " +
						"(no counting sensor) are inverse-distance weighted from the nearest sensors.",
					"fields": map[string]string{"h3": "String", "mean": "Number", "estimated": "Boolean", "sensors": "Number"},
				}},
			})
		})
	}
}

// parseFootfallTileQuery reads how and key. Returns EINVALID naming what is allowed.
func parseFootfallTileQuery(v url.Values) (tiles.FootfallTileQuery, error) {
	var q tiles.FootfallTileQuery
	for name, vals := range v {
		if name != "how" && name != "key" {
			return q, geo.Errorf(geo.EINVALID, "unknown parameter %q: use how and key", clipParam(name))
		}
		if len(vals) > 1 {
			return q, geo.Errorf(geo.EINVALID, "give %s once", name)
		}
	}
	q.How, q.Key = v.Get("how"), v.Get("key")
	number := func(n int) error {
		k, err := strconv.Atoi(q.Key)
		if err != nil || k < 0 || k >= n || strconv.Itoa(k) != q.Key {
			return geo.Errorf(geo.EINVALID, "key %q is not a whole number within 0..%d for how=%s", clipParam(q.Key), n-1, q.How)
		}
		return nil
	}
	switch q.How {
	case "", olap.FootfallAll:
		if q.Key != "" && q.Key != "all" {
			return q, geo.Errorf(geo.EINVALID, "key %q needs how=hour-of-week, hour or date", clipParam(q.Key))
		}
		q.How, q.Key = "", ""
		return q, nil
	case olap.FootfallHourOfWeek:
		return q, number(168)
	case olap.FootfallHour:
		return q, number(24)
	case olap.FootfallDate:
		if _, err := time.Parse("2006-01-02", q.Key); err != nil {
			return q, geo.Errorf(geo.EINVALID, "key %q is not a date like 2019-01-31 for how=date", clipParam(q.Key))
		}
		return q, nil
	}
	return q, geo.Errorf(geo.EINVALID, "how %q is not one of all, hour-of-week, hour, date", clipParam(q.How))
}
