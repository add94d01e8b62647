package web

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/gcrm/gcrm/geo"
	"github.com/gcrm/gcrm/olap"
	"github.com/gcrm/gcrm/tiles"
	"github.com/go-chi/chi/v5"
)

// HexagonTiles returns the hexagon tile route, for Server.Mounts:
//
//	GET /tiles/hexagons/{z}/{x}/{y}.mvt?measure=revenue&filter=segment:SMB&kind=lead
//
// Layer "hexagons": H3 cells at a resolution chosen by zoom (tiles.HexResForZoom), with
// properties h3 (use as promoteId), count (records) and the measure (any cube measure but
// penetration). Filters: the cube's filter syntax, and kind/status/segment as the customer
// tiles take them, so that counts match the customer layer. Scoped to the caller.
func (s *Server) HexagonTiles(h *tiles.Hexagons) func(chi.Router) {
	return func(r chi.Router) {
		r.Get("/tiles/hexagons/{z}/{x}/{y}.mvt", func(w http.ResponseWriter, r *http.Request) { s.hexTile(w, r, h) })
	}
}

func (s *Server) hexTile(w http.ResponseWriter, r *http.Request, h *tiles.Hexagons) {
	t, err := tiles.ParseTile(chi.URLParam(r, "z"), chi.URLParam(r, "x"), chi.URLParam(r, "y"))
	if err != nil {
		writeError(w, r, s.Log, err)
		return
	}
	v := r.URL.Query()
	for name := range v {
		switch name {
		case "measure", "filter", "kind", "status", "segment":
		default:
			writeError(w, r, s.Log, geo.Errorf(geo.EINVALID, "unknown parameter %q: use measure, filter, kind, status, segment", clipParam(name)))
			return
		}
	}
	tf, err := tileFilter(v)
	if err != nil {
		writeError(w, r, s.Log, err)
		return
	}
	filters, err := parseCubeFilters(v["filter"])
	if err != nil {
		writeError(w, r, s.Log, err)
		return
	}
	for _, p := range []struct {
		dim    string
		values []string
	}{{"kind", tf.Kinds}, {"status", tf.Statuses}, {"segment", tf.Segments}} {
		if len(p.values) > 0 {
			filters = append(filters, olap.CubeFilter{Dim: olap.CubeDim{Name: p.dim}, Values: p.values})
		}
	}
	q := tiles.HexQuery{Measure: v.Get("measure"), Filters: filters, Scope: scopeOf(r)}
	if olap.HasFootfallMeasure(q.Measure) {
		q.Salt = strconv.FormatUint(h.Cube.FootfallVersion(r.Context()), 36)
	}
	if q.Measure == "penetration" {
		writeError(w, r, s.Log, geo.Errorf(geo.EINVALID, "penetration is per region: use the regions layer"))
		return
	}
	tile, err := h.Tile(t, q)
	if err != nil {
		writeError(w, r, s.Log, err)
		return
	}
	writePrivateTile(w, r, tile.ETag, tile.Body, tile.Gzip)
}

// parseCubeFilters reads filter parameters (comma lists of dim:value) into cube filters:
// values of one dimension OR-ed, dimensions AND-ed. Returns EINVALID.
func parseCubeFilters(params []string) ([]olap.CubeFilter, error) {
	var out []olap.CubeFilter
	byDim := map[string]int{}
	for _, list := range params {
		if len(list) > 4000 {
			return nil, geo.Errorf(geo.EINVALID, "filter is too long (at most 4000 characters)")
		}
		for _, item := range splitList(list) {
			dim, value, err := parseCubeFilter(item)
			if err != nil {
				return nil, err
			}
			key := dim.String()
			if dim.Name == "h3" {
				key = "h3"
			}
			values := []string{value}
			if dim.Name == "month" && strings.Contains(value, "..") {
				if values, err = monthRange(value); err != nil {
					return nil, err
				}
			}
			i, ok := byDim[key]
			if !ok {
				i = len(out)
				byDim[key] = i
				out = append(out, olap.CubeFilter{Dim: dim})
			}
			out[i].Values = append(out[i].Values, values...)
		}
	}
	return out, nil
}
