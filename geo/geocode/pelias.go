package geocode

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"strconv"
	"strings"

	"github.com/gcrm/gcrm/geo"
	"github.com/paulmach/orb"
	orbgeo "github.com/paulmach/orb/geo"
)

// Pelias is a client of a Pelias server's /search, /search/structured and /reverse
// endpoints (opt.BaseURL ends with /v1).
type Pelias struct {
	c *httpClient
}

// NewPelias returns a client for the server at opt.BaseURL.
func NewPelias(opt HTTPOptions) *Pelias { return &Pelias{c: newHTTPClient(opt)} }

// Name is "pelias".
func (p *Pelias) Name() string { return "pelias" }

type peliasFeature struct {
	Geometry struct {
		Type        string    `json:"type"`
		Coordinates []float64 `json:"coordinates"`
	} `json:"geometry"`
	Properties struct {
		Layer      string  `json:"layer"`
		Confidence float64 `json:"confidence"`
		MatchType  string  `json:"match_type"`
		Label      string  `json:"label"`
	} `json:"properties"`
}

type peliasResponse struct {
	Geocoding struct {
		Errors []string `json:"errors"`
	} `json:"geocoding"`
	Features []peliasFeature `json:"features"`
}

// Geocode asks /search/structured when q has fields and /search for free text, for 5
// answers: others of the first one's layer and confidence further than 5 km from it
// (Hanover in Germany and in Maryland for "Hanover") make the result Ambiguous, at lower
// confidence. Returns
// EINVALID for an empty query, ENOTFOUND when nothing matched and EUNAVAILABLE when the
// server cannot be reached (after retries) or refuses the request.
func (p *Pelias) Geocode(ctx context.Context, q Query) (Result, error) {
	if q.Empty() {
		return Result{}, emptyQuery()
	}
	v := url.Values{"size": {"5"}}
	path := "/search/structured"
	if strings.TrimSpace(q.Text) != "" {
		path = "/search"
		v.Set("text", q.Text)
	} else {
		set := func(k, s string) {
			if s = strings.TrimSpace(s); s != "" {
				v.Set(k, s)
			}
		}
		set("address", strings.TrimSpace(q.HouseNumber+" "+q.Street))
		set("locality", q.City)
		set("region", q.Region)
		set("postalcode", q.Postcode)
		set("country", q.Country)
	}
	fs, err := p.get(ctx, path, v)
	if err != nil {
		return Result{}, err
	}
	if len(fs) == 0 {
		return Result{}, notFound("pelias found no place for %q", q.String())
	}
	r, err := p.result(fs[0])
	if err != nil {
		return r, err
	}
	for _, f := range fs[1:] {
		if o, err := p.result(f); err == nil && f.Properties.Layer == fs[0].Properties.Layer &&
			f.Properties.Confidence >= fs[0].Properties.Confidence && orbgeo.Distance(r.Point, o.Point) > 5000 {
			r.Candidates++
		}
	}
	if r.Candidates > 0 {
		r.Candidates++
		r.Ambiguous, r.Confidence = true, r.Confidence*0.6
	}
	return r, nil
}

// Reverse returns the nearest address, venue or place the server has at p. Returns
// ENOTFOUND when it has none, EINVALID for a point outside WGS84 and EUNAVAILABLE as
// Geocode does.
func (p *Pelias) Reverse(ctx context.Context, pt orb.Point) (Result, error) {
	if !geo.ValidLonLat(pt[0], pt[1]) {
		return Result{}, geo.Errorf(geo.EINVALID, "point %g,%g is outside the world", pt[1], pt[0])
	}
	fs, err := p.get(ctx, "/reverse", url.Values{"size": {"1"},
		"point.lat": {strconv.FormatFloat(pt[1], 'f', 7, 64)}, "point.lon": {strconv.FormatFloat(pt[0], 'f', 7, 64)}})
	if err != nil {
		return Result{}, err
	}
	if len(fs) == 0 {
		return Result{}, notFound("pelias has nothing near %g,%g", pt[1], pt[0])
	}
	return p.result(fs[0])
}

func (p *Pelias) get(ctx context.Context, path string, v url.Values) ([]peliasFeature, error) {
	if p.c.opt.APIKey != "" {
		v.Set("api_key", p.c.opt.APIKey)
	}
	body, err := p.c.get(ctx, p.Name(), strings.TrimRight(p.c.opt.BaseURL, "/")+path+"?"+v.Encode())
	var se *statusError
	if errors.As(err, &se) {
		var r peliasResponse
		if json.Unmarshal(se.body, &r) == nil && len(r.Geocoding.Errors) > 0 {
			return nil, geo.Errorf(geo.EUNAVAILABLE, "pelias rejected the query: %s", strings.Join(r.Geocoding.Errors, "; "))
		}
		return nil, geo.Errorf(geo.EUNAVAILABLE, "pelias rejected the query: %v", se)
	}
	if err != nil {
		return nil, err
	}
	var r peliasResponse
	if err := json.Unmarshal(body, &r); err != nil {
		return nil, geo.Errorf(geo.EUNAVAILABLE, "pelias answered something that is not its GeoJSON: %v: %s", err, snippet(body))
	}
	if len(r.Geocoding.Errors) > 0 { // errors in a 200 answer are errors all the same
		return nil, geo.Errorf(geo.EUNAVAILABLE, "pelias rejected the query: %s", strings.Join(r.Geocoding.Errors, "; "))
	}
	return r.Features, nil
}

func (p *Pelias) result(f peliasFeature) (Result, error) {
	c := f.Geometry.Coordinates
	if f.Geometry.Type != "Point" || len(c) < 2 || !geo.ValidLonLat(c[0], c[1]) {
		return Result{}, geo.Errorf(geo.EUNAVAILABLE, "pelias answered a geometry that is not a point")
	}
	conf := f.Properties.Confidence
	if conf <= 0 || conf > 1 {
		conf = 0.5
	}
	if f.Properties.MatchType == "interpolated" || f.Properties.MatchType == "fallback" {
		conf *= 0.8
	}
	return Result{Point: orb.Point{c[0], c[1]}, Precision: peliasPrecision(f.Properties.Layer),
		Confidence: conf, Source: p.Name(), Label: f.Properties.Label}, nil
}

// peliasPrecision maps Pelias layers to gcrm's precisions.
func peliasPrecision(layer string) string {
	switch layer {
	case "address", "venue":
		return PrecisionRooftop
	case "street", "intersection":
		return PrecisionStreet
	case "postalcode":
		return PrecisionPostcode
	case "locality", "localadmin", "borough", "neighbourhood", "microhood", "macrohood":
		return PrecisionCity
	}
	return PrecisionRegion
}
