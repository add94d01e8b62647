package web

import (
	"context"
	"math"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/gcrm/gcrm/crm"
	"github.com/gcrm/gcrm/geo"
	"github.com/gcrm/gcrm/geo/geocode"
	"github.com/go-chi/chi/v5"
	"github.com/paulmach/orb"
)

// Geocoding is what the geocoding routes answer with: the forward geocoder (the server's
// configured chain), and for reverse the address table and the gazetteer (found in the
// chain; nil when the chain has none).
type Geocoding struct {
	Geocoder  geocode.Geocoder
	Addresses *crm.AddressStore
}

// gazetteer returns the gazetteer among g's geocoders, or nil.
func (g *Geocoding) gazetteer() *geocode.Gazetteer {
	var find func(geocode.Geocoder) *geocode.Gazetteer
	find = func(x geocode.Geocoder) *geocode.Gazetteer {
		switch v := x.(type) {
		case *geocode.Gazetteer:
			return v
		case *geocode.Chain:
			for _, c := range v.Geocoders {
				if gz := find(c); gz != nil {
					return gz
				}
			}
		}
		return nil
	}
	if g == nil || g.Geocoder == nil {
		return nil
	}
	return find(g.Geocoder)
}

// GeocoderLoader holds a Geocoding that may still be loading (the gazetteer takes a few
// seconds): until it is ready the search and reverse routes answer 503.
type GeocoderLoader struct {
	mu    sync.Mutex
	done  bool
	g     *Geocoding
	err   error
	ready chan struct{} // closed when done
}

// LoadGeocoder starts load in the background (it ends when load returns; load should
// honour ctx) and returns the loader the routes read.
func LoadGeocoder(ctx context.Context, load func(context.Context) (*Geocoding, error)) *GeocoderLoader {
	l := &GeocoderLoader{ready: make(chan struct{})}
	go func() {
		g, err := load(ctx)
		l.mu.Lock()
		l.g, l.err, l.done = g, err, true
		l.mu.Unlock()
		close(l.ready)
	}()
	return l
}

// ReadyGeocoder returns a loader holding g (tests, or a geocoder built up front).
func ReadyGeocoder(g *Geocoding) *GeocoderLoader {
	l := &GeocoderLoader{done: true, g: g, ready: make(chan struct{})}
	close(l.ready)
	return l
}

// wait waits until the geocoder has loaded (or failed to) or ctx ends.
func (l *GeocoderLoader) wait(ctx context.Context) {
	select {
	case <-l.ready:
	case <-ctx.Done():
	}
}

// get returns the Geocoding, or EUNAVAILABLE while it loads or when it failed to load.
func (l *GeocoderLoader) get() (*Geocoding, error) {
	if l == nil {
		return nil, geo.Errorf(geo.EUNAVAILABLE, "no geocoder is configured on this server")
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case !l.done:
		return nil, geo.Errorf(geo.EUNAVAILABLE, "geocoder is still loading: try again in a few seconds")
	case l.err != nil:
		return nil, geo.Errorf(geo.EUNAVAILABLE, "the geocoder could not be loaded: %s", geo.ErrorMessage(l.err))
	case l.g == nil || l.g.Geocoder == nil:
		return nil, geo.Errorf(geo.EUNAVAILABLE, "no geocoder is configured on this server")
	}
	return l.g, nil
}

// GeocodeRoutes returns the geocoding routes, for Server.Mounts:
//
//	GET /api/v1/geocode/review?cursor=&limit=&max_confidence=  records without a location, then low-confidence ones (scoped)
//	GET /api/v1/geocode/search?q=ADDRESS                       candidates from the configured geocoder
//	GET /api/v1/geocode/reverse?lat=&lon=                      regions, nearest place, ZIP area, address
//
// A fix is PATCH /api/v1/customers/{id} with lat and lon: it stores precision "manual".
// The review list works without a geocoder (l may be nil).
func (s *Server) GeocodeRoutes(l *GeocoderLoader) func(chi.Router) {
	s.geocoder = l
	return func(r chi.Router) {
		r.Get("/api/v1/geocode/review", s.geocodeReview)
		r.Get("/api/v1/geocode/search", func(w http.ResponseWriter, r *http.Request) { s.geocodeSearch(w, r, l) })
		r.Get("/api/v1/geocode/reverse", func(w http.ResponseWriter, r *http.Request) { s.geocodeReverse(w, r, l) })
	}
}

// Geocode statuses of a record, derived from its location and geocode fields.
const (
	GeocodeUngeocoded    = "ungeocoded"     // no location (geocode.error says why)
	GeocodeLowConfidence = "low_confidence" // placed by a geocoder below geocode.LowConfidence
	GeocodeOK            = "ok"
)

// GeocodeStatus is c's geocode status: ungeocoded, low_confidence or ok.
func GeocodeStatus(c *crm.Customer) string {
	switch {
	case c.Location == nil:
		return GeocodeUngeocoded
	case c.Geocode.Precision != geocode.PrecisionManual && c.Geocode.Precision != geocode.PrecisionGiven &&
		c.Geocode.Confidence < geocode.LowConfidence:
		return GeocodeLowConfidence
	}
	return GeocodeOK
}

// parseGeocoded reads the customers list's geocoded parameter: "true" (only records with a
// location), "false" (only those without: ungeocoded) or "" (all). Returns EINVALID otherwise.
func parseGeocoded(s string) (*bool, error) {
	switch s {
	case "":
		return nil, nil
	case "true", "false":
		b := s == "true"
		return &b, nil
	}
	return nil, geo.Errorf(geo.EINVALID, "geocoded %q must be true (records with a location) or false (records without one)", s)
}

// parseReviewQuery reads the review list's parameters. Returns EINVALID for a bad limit or
// max_confidence.
func parseReviewQuery(q url.Values) (crm.ReviewFilter, error) {
	f := crm.ReviewFilter{Cursor: q.Get("cursor")}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			return f, geo.Errorf(geo.EINVALID, "limit %q must be a whole number from 1 to 1000", v)
		}
		f.Limit = n
	}
	if v := q.Get("max_confidence"); v != "" {
		c, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsNaN(c) || c <= 0 || c > 1 {
			return f, geo.Errorf(geo.EINVALID, "max_confidence %q must be a number above 0 and at most 1 (records placed below it are listed)", v)
		}
		f.MaxConfidence = c
	}
	return f, nil
}

func (s *Server) geocodeReview(w http.ResponseWriter, r *http.Request) {
	f, err := parseReviewQuery(r.URL.Query())
	if err != nil {
		writeError(w, r, s.Log, err)
		return
	}
	f.Scope = scopeOf(r)
	list, next, err := s.Customers.GeocodeReview(r.Context(), f)
	if err != nil {
		writeError(w, r, s.Log, err)
		return
	}
	writeCustomerPage(w, r, list, next)
}

// maxQueryRunes bounds a search query: an address is never longer.
const maxQueryRunes = 300

// parseSearchQuery reads q (free-form address) and an optional country. Returns EINVALID
// for a missing, over-long or non-UTF-8 query.
func parseSearchQuery(q url.Values) (geocode.Query, error) {
	text := strings.TrimSpace(q.Get("q"))
	switch {
	case text == "":
		return geocode.Query{}, geo.Errorf(geo.EINVALID, "give an address to search for in q, e.g. q=12 Main St, Springfield, IL")
	case !utf8.ValidString(text):
		return geocode.Query{}, geo.Errorf(geo.EINVALID, "q must be UTF-8 text")
	case utf8.RuneCountInString(text) > maxQueryRunes:
		return geocode.Query{}, geo.Errorf(geo.EINVALID, "q is longer than %d characters: give one address", maxQueryRunes)
	}
	gq := geocode.Query{Text: text, Country: strings.TrimSpace(q.Get("country"))}
	if gq.Empty() {
		return gq, geo.Errorf(geo.EINVALID, "q %q holds no address: give a street, city, state or postcode", text)
	}
	return gq, nil
}

// candidate is one place a search found.
type candidate struct {
	Lat        float64 `json:"lat"`
	Lon        float64 `json:"lon"`
	Label      string  `json:"label"`
	Precision  string  `json:"precision"`
	Confidence float64 `json:"confidence"`
	Provider   string  `json:"provider"`
}

// maxCandidates is how many candidates a search returns at most.
const maxCandidates = 8

// searchCandidates asks every provider of the chain (not just the first good one, so the
// user can choose) and, when a city name is ambiguous, adds the gazetteer's other places of
// that name. Candidates are ordered finest precision, then highest confidence, and
// deduplicated (same point within ~50 m).
func searchCandidates(ctx context.Context, g *Geocoding, q geocode.Query) ([]candidate, error) {
	providers := []geocode.Geocoder{g.Geocoder}
	if c, ok := g.Geocoder.(*geocode.Chain); ok && len(c.Geocoders) > 0 {
		providers = c.Geocoders
	}
	var out []candidate
	var firstErr error
	add := func(r geocode.Result, provider string) {
		for _, o := range out {
			if math.Abs(o.Lat-r.Point[1]) < 5e-4 && math.Abs(o.Lon-r.Point[0]) < 5e-4 {
				return
			}
		}
		label := r.Label
		if label == "" {
			label = q.String()
		}
		out = append(out, candidate{Lat: r.Point[1], Lon: r.Point[0], Label: label, Precision: r.Precision, Confidence: r.Confidence, Provider: provider})
	}
	for _, p := range providers {
		r, err := p.Geocode(ctx, q)
		if err != nil {
			if geo.ErrorCode(err) == geo.EINVALID {
				return nil, err
			}
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		src := r.Source
		if src == "" {
			src = p.Name()
		}
		add(r, src)
		if gz, ok := p.(*geocode.Gazetteer); ok && r.Ambiguous && r.Precision == geocode.PrecisionCity {
			sq := q.Structured()
			country := sq.Country
			if country == "" {
				country = "US"
			}
			for _, pl := range gz.Places(country, sq.Region, sq.City) {
				add(geocode.Result{Point: pl.Point, Precision: geocode.PrecisionCity, Confidence: r.Confidence / 2,
					Label: placeLabelOf(pl)}, gz.Name())
			}
		}
	}
	if len(out) == 0 {
		if firstErr == nil {
			firstErr = geo.Errorf(geo.ENOTFOUND, "no geocoder could place %q", q.String())
		}
		return nil, firstErr
	}
	sort.SliceStable(out, func(i, j int) bool {
		ri, rj := geocode.PrecisionRank(out[i].Precision), geocode.PrecisionRank(out[j].Precision)
		if ri != rj {
			return ri < rj
		}
		return out[i].Confidence > out[j].Confidence
	})
	return out[:min(len(out), maxCandidates)], nil
}

func placeLabelOf(p geocode.Place) string {
	parts := []string{p.Name}
	for _, s := range []string{p.Admin1, p.Country} {
		if s != "" {
			parts = append(parts, s)
		}
	}
	return strings.Join(parts, ", ")
}

func (s *Server) geocodeSearch(w http.ResponseWriter, r *http.Request, l *GeocoderLoader) {
	q, err := parseSearchQuery(r.URL.Query())
	if err != nil {
		writeError(w, r, s.Log, err)
		return
	}
	g, err := l.get()
	if err != nil {
		writeError(w, r, s.Log, err)
		return
	}
	list, err := searchCandidates(r.Context(), g, q)
	if geo.ErrorCode(err) == geo.ENOTFOUND {
		// Nothing found is an answer, not a missing resource: an empty list with the reason.
		writeJSON(w, http.StatusOK, map[string]any{"query": q.Text, "candidates": []candidate{}, "reason": geo.ErrorMessage(err)})
		return
	}
	if err != nil {
		writeError(w, r, s.Log, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"query": q.Text, "candidates": list})
}

// parseLatLon reads lat and lon in degrees. Returns EINVALID when either is missing, not a
// number or outside the world.
func parseLatLon(q url.Values) (orb.Point, error) {
	latS, lonS := strings.TrimSpace(q.Get("lat")), strings.TrimSpace(q.Get("lon"))
	if latS == "" || lonS == "" {
		return orb.Point{}, geo.Errorf(geo.EINVALID, "give both lat and lon in degrees, e.g. lat=41.8781&lon=-87.6298")
	}
	lat, err1 := strconv.ParseFloat(latS, 64)
	lon, err2 := strconv.ParseFloat(lonS, 64)
	if err1 != nil || err2 != nil {
		return orb.Point{}, geo.Errorf(geo.EINVALID, "lat %q and lon %q must be numbers in degrees", latS, lonS)
	}
	if math.IsNaN(lat) || math.IsNaN(lon) || !geo.ValidLonLat(lon, lat) {
		return orb.Point{}, geo.Errorf(geo.EINVALID, "lat %s, lon %s is outside the world: lat must be within -90..90 and lon within -180..180", latS, lonS)
	}
	return orb.Point{lon, lat}, nil
}

func (s *Server) geocodeReverse(w http.ResponseWriter, r *http.Request, l *GeocoderLoader) {
	p, err := parseLatLon(r.URL.Query())
	if err != nil {
		writeError(w, r, s.Log, err)
		return
	}
	g, err := l.get()
	if err != nil {
		writeError(w, r, s.Log, err)
		return
	}
	addrs := g.Addresses
	if addrs == nil {
		addrs = crm.NewAddressStore(s.DB)
	}
	rev, err := addrs.ReverseGeocode(r.Context(), g.gazetteer(), p)
	if err != nil {
		writeError(w, r, s.Log, err)
		return
	}
	writeJSON(w, http.StatusOK, rev)
}

// importGeocoder returns the geocoder an import places rows without coordinates with: the
// server's (waiting while it loads), unless the request says geocode=false; nil — such rows
// are rejected — when the server has no working geocoder. Returns EUNAVAILABLE for that case
// when the request says geocode=true, and EINVALID for another geocode value.
func (s *Server) importGeocoder(r *http.Request) (crm.Geocoder, error) {
	v := r.URL.Query().Get("geocode")
	switch v {
	case "false":
		return nil, nil
	case "", "true":
	default:
		return nil, geo.Errorf(geo.EINVALID, "geocode %q must be true (place rows without coordinates; the default) or false (reject them)", v)
	}
	if s.geocoder != nil {
		s.geocoder.wait(r.Context()) // an import just after start waits the few seconds the gazetteer takes
	}
	g, err := s.geocoder.get()
	switch {
	case err == nil:
		return crm.ImportGeocoder(g.Geocoder), nil
	case v == "true":
		return nil, err
	}
	return nil, nil // no geocoder (or it failed to load): rows without coordinates are rejected, as they say
}
