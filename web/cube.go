package web

import (
	"encoding/csv"
	"fmt"
	"hash/fnv"
	"net/http"
	"net/url"
	"strings"

	"github.com/gcrm/gcrm/geo"
	"github.com/gcrm/gcrm/olap"
	"github.com/go-chi/chi/v5"
)

// CubeRoutes returns the cube's routes, for Server.Mounts:
//
//	GET /api/v1/cube?measures=customers,revenue&by=h3:6,segment&filter=segment:SMB,kind:lead&bbox=…
//	GET /api/v1/cube/meta
//
// Parameters of /api/v1/cube (docs/api.md has examples):
//
//   - measures (required): comma list of olap.CubeMeasures — records, customers, prospects,
//     leads, revenue, customer_revenue, won, lost, conversion_rate (won / (won + lost)),
//     revenue_per_customer (customer_revenue / customers), penetration (customers per 1,000
//     residents; needs a region in by), activities (logged on the records), footfall (mean
//     daily footfall of the row's area),
//     footfall_penetration (customers per 1,000 daily footfall).
//   - by: comma list of dimensions — h3:<0..15>, region:<level>, kind, status, segment,
//     owner, month. None: one total row. Drill down by adding a dimension or a finer
//     resolution, roll up by removing one.
//   - filter: comma list of dim:value — kind:lead, status:won, segment:SMB, owner:ann,
//     month:2024-03 or month:2024-01..2024-06, region:county:48453, h3:<cell hex> (any
//     resolution: the records inside that cell). Values of one dimension are OR-ed,
//     dimensions AND-ed (slice and dice). Repeat the parameter or join with commas.
//   - bbox: minLon,minLat,maxLon,maxLat (edges included).
//   - format: json (default) or csv (the breakdown as a file, same columns).
//
// The answer (JSON) is {"columns": [...by, ...measures], "rows": [[...]], "source", "version"}:
// dimension values are strings (h3 cells in hexadecimal, months "2006-01", region codes,
// "" for none), counts are integers, revenue an exact decimal number, ratios numbers or
// null. Rows come sorted by their dimension values. The caller's scope applies: a rep's
// cube holds only their records. An ETag from the cube's version allows 304 answers.
// /api/v1/cube/meta lists the measures, dimensions and region levels (for pickers),
// population_levels: the levels where penetration has values, and footfall_cells: how many
// footfall cells (measured and estimated) the footfall measures draw on (0: none).
func (s *Server) CubeRoutes(cube *olap.Cube, engine *olap.Engine) func(chi.Router) {
	return func(r chi.Router) {
		r.Get("/api/v1/cube", func(w http.ResponseWriter, r *http.Request) { s.cubeQuery(w, r, cube, engine) })
		r.Get("/api/v1/cube/meta", func(w http.ResponseWriter, r *http.Request) { s.cubeMeta(w, r, cube) })
	}
}

func (s *Server) cubeQuery(w http.ResponseWriter, r *http.Request, cube *olap.Cube, engine *olap.Engine) {
	q, format, err := parseCubeQuery(r.URL.Query())
	if err != nil {
		writeError(w, r, s.Log, err)
		return
	}
	q.Scope = scopeOf(r)
	version := cube.Version()
	h := fnv.New64a()
	fmt.Fprintf(h, "%s|%s|%s", r.URL.RawQuery, q.Scope.Key(), format)
	if olap.HasFootfallMeasure(q.Measures...) { // footfall is imported apart from the records
		fmt.Fprintf(h, "|%x", cube.FootfallVersion(r.Context()))
	}
	etag := fmt.Sprintf(`"cube-%x-%x-%x"`, engine.Epoch(), version, h.Sum64())
	w.Header().Set("ETag", etag)
	w.Header().Set("Cache-Control", "private, no-cache")
	if etagMatch(r.Header.Get("If-None-Match"), etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	res, err := cube.Query(q, engine.Snapshot())
	if err != nil {
		writeError(w, r, s.Log, err)
		return
	}
	defer res.Release()
	if format == "csv" {
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.Header().Set("Content-Disposition", `attachment; filename="cube.csv"`)
		cw := csv.NewWriter(w)
		_ = cw.Write(res.Columns)
		var row []olap.CubeValue
		var rec []string
		for i := range res.Len() {
			row, rec = res.AppendRow(row[:0], i), rec[:0]
			for _, v := range row {
				rec = append(rec, csvValue(v))
			}
			_ = cw.Write(rec)
		}
		cw.Flush()
		return
	}
	writeCubeJSON(w, res, version)
}

// csvValue formats one cell of a cube row; a formula-looking text is prefixed with ' so
// spreadsheets do not run it.
func csvValue(v olap.CubeValue) string {
	switch v.Kind {
	case olap.CubeNull:
		return ""
	case olap.CubeText, olap.CubeCell, olap.CubeMonth:
		t := string(v.AppendText(nil))
		if t != "" && strings.ContainsRune("=+-@\t\r", rune(t[0])) {
			return "'" + t
		}
		return t
	}
	return string(v.AppendText(nil))
}

func (s *Server) cubeMeta(w http.ResponseWriter, r *http.Request, cube *olap.Cube) {
	w.Header().Set("Cache-Control", "private, no-cache")
	dims := append([]string(nil), olap.CubeDimNames...)
	writeJSON(w, http.StatusOK, map[string]any{
		"measures": olap.CubeMeasures, "dimensions": dims, "region_levels": cube.Levels(),
		"population_levels": cube.PopulationLevels(),
		"footfall_cells":    cube.FootfallCells(r.Context()),
		"base_resolution":   olap.CubeRes, "version": cube.Version(),
	})
}

// maxMonthRange bounds a month range filter (50 years).
const maxMonthRange = 600

// parseCubeQuery reads the parameters of GET /api/v1/cube (not the scope). Returns
// EINVALID naming the parameter and what is allowed.
func parseCubeQuery(v url.Values) (*olap.CubeQuery, string, error) {
	q := &olap.CubeQuery{}
	for name := range v {
		switch name {
		case "measures", "by", "filter", "bbox", "format":
		default:
			return nil, "", geo.Errorf(geo.EINVALID, "unknown parameter %q: use measures, by, filter, bbox, format", clipParam(name))
		}
	}
	for _, name := range []string{"measures", "by", "bbox", "format"} {
		if len(v[name]) > 1 {
			return nil, "", geo.Errorf(geo.EINVALID, "give %s once (a comma-separated list)", name)
		}
	}
	for _, p := range []string{"measures", "by", "filter", "bbox"} {
		for _, s := range v[p] {
			if len(s) > 4000 {
				return nil, "", geo.Errorf(geo.EINVALID, "%s is too long (at most 4000 characters)", p)
			}
		}
	}
	q.Measures = splitList(v.Get("measures"))
	if len(q.Measures) == 0 {
		var names []string
		for _, m := range olap.CubeMeasures {
			names = append(names, m.Name)
		}
		return nil, "", geo.Errorf(geo.EINVALID, "measures is required: one or more of %s", strings.Join(names, ", "))
	}
	for _, s := range splitList(v.Get("by")) {
		d, err := olap.ParseCubeDim(s)
		if err != nil {
			return nil, "", err
		}
		q.By = append(q.By, d)
	}
	filters, err := parseCubeFilters(v["filter"])
	if err != nil {
		return nil, "", err
	}
	q.Filters = filters
	b, err := parseBBox(v.Get("bbox"))
	if err != nil {
		return nil, "", err
	}
	q.Bound = b
	format := v.Get("format")
	switch format {
	case "":
		format = "json"
	case "json", "csv":
	default:
		return nil, "", geo.Errorf(geo.EINVALID, "format %q is not json or csv", clipParam(format))
	}
	return q, format, nil
}

// parseCubeFilter reads one dim:value item (region:level:code for regions).
func parseCubeFilter(item string) (olap.CubeDim, string, error) {
	name, rest, ok := strings.Cut(item, ":")
	if !ok || rest == "" {
		return olap.CubeDim{}, "", geo.Errorf(geo.EINVALID, "filter %q must be dimension:value, as segment:SMB or region:county:48453", clipParam(item))
	}
	switch name {
	case "region":
		level, code, ok := strings.Cut(rest, ":")
		if !ok {
			return olap.CubeDim{}, "", geo.Errorf(geo.EINVALID, "filter %q must be region:<level>:<code>", clipParam(item))
		}
		d, err := olap.ParseCubeDim("region:" + level)
		return d, code, err
	case "h3":
		return olap.CubeDim{Name: "h3"}, rest, nil
	case "kind", "status", "segment", "owner", "month":
		return olap.CubeDim{Name: name}, rest, nil
	}
	return olap.CubeDim{}, "", geo.Errorf(geo.EINVALID, "filter %q: unknown dimension %q: use kind, status, segment, owner, month, region:<level>, h3", clipParam(item), clipParam(name))
}

// monthRange expands "2024-01..2024-06" into its months.
func monthRange(s string) ([]string, error) {
	a, b, _ := strings.Cut(s, "..")
	from, err := olap.ParseMonth(a)
	if err != nil {
		return nil, err
	}
	to, err := olap.ParseMonth(b)
	if err != nil {
		return nil, err
	}
	if to < from || to-from >= maxMonthRange {
		return nil, geo.Errorf(geo.EINVALID, "month range %q must run forward over at most %d months", clipParam(s), maxMonthRange)
	}
	var out []string
	for m := from; m <= to; m++ {
		out = append(out, olap.FormatMonth(m))
	}
	return out, nil
}

func clipParam(s string) string {
	if len(s) > 60 {
		return s[:60] + "…"
	}
	return s
}
