package web

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/gcrm/gcrm/geo"
	"github.com/gcrm/gcrm/olap"
	"github.com/go-chi/chi/v5"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/geojson"
	"github.com/uber/h3-go/v4"
)

// maxFootfallValues caps one answer; a wider question must be narrowed by key, cell or bbox.
const maxFootfallValues = 100_000

// footfallResponse is the JSON of GET /api/v1/footfall.
type footfallResponse struct {
	How       string               `json:"how"`
	Res       int                  `json:"res"`
	SensorRes int                  `json:"sensor_res"`
	Estimate  string               `json:"estimate"`
	Values    []olap.FootfallValue `json:"values"`
}

// FootfallRoutes mounts GET /api/v1/footfall on r:
//
//	?how=hour-of-week|hour|date|all  (default hour-of-week; 0 = Monday 00:00 local time;
//	                              all: every hour of the data, one key "all")
//	&key=8                        one hour-of-week, hour or date (2019-01-31); all when absent
//	&res=10                       H3 resolution (default: the sensors' resolution; coarser allowed)
//	&cell=8abe63…,8abe63…         only these cells, or
//	&bbox=minLon,minLat,maxLon,maxLat
//	&estimates=false              leave out the IDW estimates for cells without a sensor
//	&format=geojson               a FeatureCollection of hexagons (one feature per cell and key)
//	                              for drawing without an H3 library; default: JSON values
//
// Each value is the mean of the non-missing hourly counts of the cell for the key; estimated
// values carry "estimated": true.
func (s *Server) FootfallRoutes(cache *olap.FootfallCache) func(chi.Router) {
	return func(r chi.Router) {
		r.Get("/api/v1/footfall", func(w http.ResponseWriter, r *http.Request) {
			q, err := footfallQuery(r)
			if err != nil {
				writeError(w, r, s.Log, err)
				return
			}
			f, err := cache.Get(r.Context())
			if err != nil {
				writeError(w, r, s.Log, err)
				return
			}
			vals, err := f.Query(q)
			if err != nil {
				writeError(w, r, s.Log, err)
				return
			}
			if len(vals) > maxFootfallValues {
				writeError(w, r, s.Log, geo.Errorf(geo.EINVALID, "the answer has %d values, more than %d: narrow it with key, cell or bbox", len(vals), maxFootfallValues))
				return
			}
			if vals == nil {
				vals = []olap.FootfallValue{}
			}
			if r.URL.Query().Get("format") == "geojson" {
				writeFootfallGeoJSON(w, vals)
				return
			}
			res := q.Res
			if res == 0 {
				res = f.Res
			}
			how := q.How
			if how == "" {
				how = olap.FootfallHourOfWeek
			}
			writeJSON(w, http.StatusOK, footfallResponse{How: how, Res: res, SensorRes: f.Res, Values: vals,
				Estimate: "inverse-distance weighting (power " + strconv.FormatFloat(f.Power, 'g', -1, 64) + ") of the " +
					strconv.Itoa(f.K) + " nearest sensors within " + strconv.FormatFloat(f.RadiusMeters, 'g', -1, 64) + " m"})
		})
	}
}

// writeFootfallGeoJSON answers vals as hexagon polygons ([lon, lat], closed rings) with the
// value's fields as properties.
func writeFootfallGeoJSON(w http.ResponseWriter, vals []olap.FootfallValue) {
	fc := geojson.NewFeatureCollection()
	for _, v := range vals {
		c := h3.Cell(h3.IndexFromString(v.Cell))
		var ring orb.Ring
		for _, ll := range c.Boundary() {
			ring = append(ring, orb.Point{ll.Lng, ll.Lat})
		}
		if len(ring) > 0 {
			ring = append(ring, ring[0])
		}
		f := geojson.NewFeature(orb.Polygon{ring})
		f.Properties = geojson.Properties{"cell": v.Cell, "res": v.Res, "key": v.Key, "mean": v.Mean, "n": v.N,
			"sensors": v.Sensors, "estimated": v.Estimated}
		if v.Estimated {
			f.Properties["nearest_m"] = v.NearestM
		}
		fc.Append(f)
	}
	w.Header().Set("Content-Type", "application/geo+json")
	w.WriteHeader(http.StatusOK)
	_ = json.NewEncoder(w).Encode(fc)
}

func footfallQuery(r *http.Request) (olap.FootfallQuery, error) {
	v := r.URL.Query()
	q := olap.FootfallQuery{How: v.Get("how"), Key: v.Get("key"), Estimates: true}
	if s := v.Get("res"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 || n > 15 {
			return q, geo.Errorf(geo.EINVALID, "res %q is not an H3 resolution 0..15", s)
		}
		q.Res = n
	}
	if s := v.Get("estimates"); s != "" {
		b, err := strconv.ParseBool(s)
		if err != nil {
			return q, geo.Errorf(geo.EINVALID, "estimates %q is not true or false", s)
		}
		q.Estimates = b
	}
	if s := v.Get("cell"); s != "" {
		for _, part := range strings.Split(s, ",") {
			c := h3.Cell(h3.IndexFromString(strings.TrimSpace(part)))
			if !c.IsValid() {
				return q, geo.Errorf(geo.EINVALID, "cell %q is not an H3 cell index", part)
			}
			if q.Res == 0 {
				q.Res = c.Resolution()
			}
			if c.Resolution() != q.Res {
				return q, geo.Errorf(geo.EINVALID, "cell %q is at resolution %d, not %d: give cells of one resolution", part, c.Resolution(), q.Res)
			}
			q.Cells = append(q.Cells, c)
		}
	}
	if s := v.Get("bbox"); s != "" {
		parts := strings.Split(s, ",")
		var f [4]float64
		ok := len(parts) == 4
		for i := 0; ok && i < 4; i++ {
			var err error
			f[i], err = strconv.ParseFloat(strings.TrimSpace(parts[i]), 64)
			ok = err == nil
		}
		if !ok || !geo.ValidLonLat(f[0], f[1]) || !geo.ValidLonLat(f[2], f[3]) || f[0] > f[2] || f[1] > f[3] {
			return q, geo.Errorf(geo.EINVALID, "bbox %q is not minLon,minLat,maxLon,maxLat in degrees", s)
		}
		q.Bound = &orb.Bound{Min: orb.Point{f[0], f[1]}, Max: orb.Point{f[2], f[3]}}
	}
	return q, nil
}
