package web

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/gcrm/gcrm/crm"
	"github.com/gcrm/gcrm/geo"
	"github.com/go-chi/chi/v5"
	"github.com/paulmach/orb"
)

func (s *Server) customerRoutes(r chi.Router) {
	r.Get("/", s.listCustomers)
	r.Post("/", s.createCustomer)
	r.Get("/{id}", s.getCustomer)
	r.Patch("/{id}", s.updateCustomer)
	r.Delete("/{id}", s.deleteCustomer)
	r.Get("/export.csv", s.exportCustomers)      // export.go
	r.Get("/{id}/personal-data", s.personalData) // privacy.go
	r.Post("/{id}/erase", s.eraseCustomer)       // privacy.go
	r.Get("/{id}/activities", s.listActivities)  // activities.go
	r.Post("/{id}/activities", s.logActivity)
}

// feature is a customer as a GeoJSON Feature, with its geocode status (ungeocoded,
// low_confidence or ok: web/geocode.go) beside its id.
type feature struct {
	Type          string         `json:"type"`
	ID            int64          `json:"id"`
	Geometry      *pointGeometry `json:"geometry"`
	Properties    *crm.Customer  `json:"properties"`
	GeocodeStatus string         `json:"geocode_status"`
}

type pointGeometry struct {
	Type        string    `json:"type"`
	Coordinates orb.Point `json:"coordinates"`
}

func toFeature(c *crm.Customer) feature {
	f := feature{Type: "Feature", ID: c.ID, Properties: c, GeocodeStatus: GeocodeStatus(c)}
	if c.Location != nil {
		f.Geometry = &pointGeometry{Type: "Point", Coordinates: *c.Location}
	}
	return f
}

// customerInput is the JSON a client sends to create or change a customer: the record's
// fields plus lat/lon (null lat and lon remove the location).
type customerInput struct {
	*crm.Customer
	Lat *float64 `json:"lat"`
	Lon *float64 `json:"lon"`
}

func (in *customerInput) apply(raw map[string]json.RawMessage) error {
	_, hasLat := raw["lat"]
	_, hasLon := raw["lon"]
	switch {
	case !hasLat && !hasLon:
		return nil
	case in.Lat == nil && in.Lon == nil:
		in.Location, in.Cell = nil, 0
		return nil
	case in.Lat == nil || in.Lon == nil:
		return geo.Errorf(geo.EINVALID, "give both lat and lon, or neither")
	}
	if err := in.SetLocation(*in.Lon, *in.Lat); err != nil {
		return err
	}
	if _, given := raw["geocode"]; !given {
		in.Geocode = crm.Geocode{Precision: "manual", Confidence: 1, Source: "user"}
	}
	return nil
}

// decodeCustomer reads a JSON body onto c (fields absent from the body keep their value).
func decodeCustomer(r *http.Request, c *crm.Customer) error {
	var body json.RawMessage
	if err := readJSON(r, &body); err != nil {
		return err
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(body, &raw); err != nil {
		return geo.Errorf(geo.EINVALID, "the request body must be a JSON object")
	}
	for _, ro := range []string{"id", "created_at", "updated_at"} {
		delete(raw, ro) // read-only
	}
	body, _ = json.Marshal(raw)
	in := customerInput{Customer: c}
	if err := json.Unmarshal(body, &in); err != nil {
		return geo.Errorf(geo.EINVALID, "the request body does not fit a customer: %v", err)
	}
	return in.apply(raw)
}

func (s *Server) listCustomers(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := crm.Filter{
		Scope:    scopeOf(r),
		Kinds:    splitList(q.Get("kind")),
		Statuses: splitList(q.Get("status")),
		Segments: splitList(q.Get("segment")),
		Text:     q.Get("q"),
		Cursor:   q.Get("cursor"),
	}
	var err error
	if f.Bound, err = parseBBox(q.Get("bbox")); err != nil {
		writeError(w, r, s.Log, err)
		return
	}
	if f.Located, err = parseGeocoded(q.Get("geocoded")); err != nil { // geocode.go
		writeError(w, r, s.Log, err)
		return
	}
	if v := q.Get("limit"); v != "" {
		if f.Limit, err = strconv.Atoi(v); err != nil || f.Limit < 1 {
			writeError(w, r, s.Log, geo.Errorf(geo.EINVALID, "limit %q must be a whole number from 1 to 1000", v))
			return
		}
	}
	list, next, err := s.Customers.Find(r.Context(), f)
	if err != nil {
		writeError(w, r, s.Log, err)
		return
	}
	writeCustomerPage(w, r, list, next)
}

// writeCustomerPage answers one page of records as a GeoJSON FeatureCollection with the
// next page's cursor, contact fields redacted as for any bulk channel (export.go).
func writeCustomerPage(w http.ResponseWriter, r *http.Request, list []*crm.Customer, next string) {
	redactBulk(r, list)
	fc := struct {
		Type     string    `json:"type"`
		Features []feature `json:"features"`
		Next     string    `json:"next_cursor,omitempty"`
	}{Type: "FeatureCollection", Features: make([]feature, len(list)), Next: next}
	for i, c := range list {
		fc.Features[i] = toFeature(c)
	}
	writeJSON(w, http.StatusOK, fc)
}

func (s *Server) createCustomer(w http.ResponseWriter, r *http.Request) {
	c := &crm.Customer{}
	if err := decodeCustomer(r, c); err != nil {
		writeError(w, r, s.Log, err)
		return
	}
	if c.Location != nil && c.Geocode.Precision == "manual" && c.Geocode.Source == "user" {
		c.Geocode = crm.Geocode{Precision: "given", Confidence: 1, Source: "api"}
	}
	if sc := scopeOf(r); c.Owner == "" && sc.Restricted && len(sc.Owners) == 1 {
		c.Owner = sc.Owners[0] // a rep's new record is theirs
	}
	if sc := scopeOf(r); !sc.Allows(c.Owner) {
		writeError(w, r, s.Log, geo.Errorf(geo.EFORBIDDEN, "you can only create records owned by %s", strings.Join(sc.Owners, ", ")))
		return
	}
	if err := s.Customers.Create(r.Context(), c); err != nil {
		writeError(w, r, s.Log, err)
		return
	}
	s.changed(c)
	w.Header().Set("Location", "/api/v1/customers/"+strconv.FormatInt(c.ID, 10))
	w.Header().Set("ETag", versionETag(c.Version))
	writeJSON(w, http.StatusCreated, toFeature(c))
}

func (s *Server) getCustomer(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		writeError(w, r, s.Log, err)
		return
	}
	c, err := s.Customers.FindByID(r.Context(), scopeOf(r), id)
	if err != nil {
		writeError(w, r, s.Log, err)
		return
	}
	w.Header().Set("ETag", versionETag(c.Version))
	writeJSON(w, http.StatusOK, toFeature(c))
}

// updateCustomer applies a partial JSON update. The version it applies to comes from the
// body's "version" or an If-Match header; a stale one answers 409.
func (s *Server) updateCustomer(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		writeError(w, r, s.Log, err)
		return
	}
	var body json.RawMessage
	if err := readJSON(r, &body); err != nil {
		writeError(w, r, s.Log, err)
		return
	}
	var v struct {
		Version *int `json:"version"`
	}
	_ = json.Unmarshal(body, &v)
	if im := strings.Trim(r.Header.Get("If-Match"), `W/"`); im != "" {
		n, err := strconv.Atoi(strings.TrimPrefix(im, "v"))
		if err != nil {
			writeError(w, r, s.Log, geo.Errorf(geo.EINVALID, "If-Match %q is not a version ETag from this API", r.Header.Get("If-Match")))
			return
		}
		v.Version = &n
	}
	if v.Version == nil {
		writeError(w, r, s.Log, geo.Errorf(geo.EINVALID, "give the version you are changing (\"version\" in the body or an If-Match header), so concurrent edits are not lost"))
		return
	}
	c, err := s.Customers.Update(r.Context(), scopeOf(r), id, *v.Version, func(c *crm.Customer) error {
		r2 := r.Clone(r.Context())
		r2.Body = nopCloser{strings.NewReader(string(body))}
		return decodeCustomer(r2, c)
	})
	if err != nil {
		writeError(w, r, s.Log, err)
		return
	}
	s.changed(c)
	w.Header().Set("ETag", versionETag(c.Version))
	writeJSON(w, http.StatusOK, toFeature(c))
}

func (s *Server) deleteCustomer(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		writeError(w, r, s.Log, err)
		return
	}
	rev, err := s.Customers.Delete(r.Context(), scopeOf(r), id)
	if err != nil {
		writeError(w, r, s.Log, err)
		return
	}
	if s.Index != nil {
		s.Index.Remove(id, rev)
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) changed(c *crm.Customer) {
	if s.Index != nil {
		s.Index.Put(c)
	}
}

func versionETag(v int) string { return `"v` + strconv.Itoa(v) + `"` }

type nopCloser struct{ *strings.Reader }

func (nopCloser) Close() error { return nil }

func pathID(r *http.Request) (int64, error) {
	s := chi.URLParam(r, "id")
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil || id < 1 {
		return 0, geo.Errorf(geo.EINVALID, "id %q is not a record id (a positive whole number)", s)
	}
	return id, nil
}

func splitList(s string) []string {
	if s == "" {
		return nil
	}
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// parseBBox parses "minLon,minLat,maxLon,maxLat"; "" is no bbox.
func parseBBox(s string) (*orb.Bound, error) {
	if s == "" {
		return nil, nil
	}
	parts := strings.Split(s, ",")
	if len(parts) != 4 {
		return nil, geo.Errorf(geo.EINVALID, "bbox %q must be minLon,minLat,maxLon,maxLat", s)
	}
	var v [4]float64
	for i, p := range parts {
		f, err := strconv.ParseFloat(strings.TrimSpace(p), 64)
		if err != nil {
			return nil, geo.Errorf(geo.EINVALID, "bbox %q: %q is not a number", s, p)
		}
		v[i] = f
	}
	if !geo.ValidLonLat(v[0], v[1]) || !geo.ValidLonLat(v[2], v[3]) || v[0] > v[2] || v[1] > v[3] {
		return nil, geo.Errorf(geo.EINVALID, "bbox %q must be minLon,minLat,maxLon,maxLat within -180..180 and -90..90, min before max", s)
	}
	return &orb.Bound{Min: orb.Point{v[0], v[1]}, Max: orb.Point{v[2], v[3]}}, nil
}
