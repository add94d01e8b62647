package geocode

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"strings"

	"github.com/gcrm/gcrm/geo"
	"github.com/paulmach/orb"
)

// Pelias is a client of a Pelias server's /search and /search/structured endpoints
// (opt.BaseURL ends with /v1).
type Pelias struct {
	c *httpClient
}

// NewPelias returns a client for the server at opt.BaseURL.
func NewPelias(opt HTTPOptions) *Pelias { return &Pelias{c: newHTTPClient(opt)} }

// Name is "pelias".
func (p *Pelias) Name() string { return "pelias" }

type peliasResponse struct {
	Geocoding struct {
		Errors []string `json:"errors"`
	} `json:"geocoding"`
	Features []struct {
		Geometry struct {
			Type        string    `json:"type"`
			Coordinates []float64 `json:"coordinates"`
		} `json:"geometry"`
		Properties struct {
			Layer      string  `json:"layer"`
			Confidence float64 `json:"confidence"`
			MatchType  string  `json:"match_type"`
			Accuracy   string  `json:"accuracy"`
			Label      string  `json:"label"`
		} `json:"properties"`
	} `json:"features"`
}

// Geocode asks /search/structured when q has fields and /search for free text. Returns
// EINVALID for an empty query, ENOTFOUND when nothing matched and EUNAVAILABLE when the
// server cannot be reached (after retries) or refuses the request.
func (p *Pelias) Geocode(ctx context.Context, q Query) (Result, error) {
	if q.Empty() {
		return Result{}, emptyQuery()
	}
	v := url.Values{"size": {"1"}}
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
	if p.c.opt.APIKey != "" {
		v.Set("api_key", p.c.opt.APIKey)
	}
	body, err := p.c.get(ctx, p.Name(), strings.TrimRight(p.c.opt.BaseURL, "/")+path+"?"+v.Encode())
	var se *statusError
	if errors.As(err, &se) {
		var r peliasResponse
		if json.Unmarshal(se.body, &r) == nil && len(r.Geocoding.Errors) > 0 {
			return Result{}, geo.Errorf(geo.EUNAVAILABLE, "pelias rejected the query: %s", strings.Join(r.Geocoding.Errors, "; "))
		}
		return Result{}, geo.Errorf(geo.EUNAVAILABLE, "pelias rejected the query: %v", se)
	}
	if err != nil {
		return Result{}, err
	}
	var r peliasResponse
	if err := json.Unmarshal(body, &r); err != nil {
		return Result{}, geo.Errorf(geo.EUNAVAILABLE, "pelias answered something that is not its GeoJSON: %v", err)
	}
	if len(r.Features) == 0 {
		return Result{}, notFound("pelias found no place for %q", q.String())
	}
	f := r.Features[0]
	if f.Geometry.Type != "Point" || len(f.Geometry.Coordinates) < 2 || !geo.ValidLonLat(f.Geometry.Coordinates[0], f.Geometry.Coordinates[1]) {
		return Result{}, geo.Errorf(geo.EUNAVAILABLE, "pelias answered a geometry that is not a point")
	}
	conf := f.Properties.Confidence
	if conf <= 0 || conf > 1 {
		conf = 0.5
	}
	prec := peliasPrecision(f.Properties.Layer)
	if f.Properties.MatchType == "interpolated" || f.Properties.MatchType == "fallback" {
		conf *= 0.8
	}
	return Result{Point: orb.Point{f.Geometry.Coordinates[0], f.Geometry.Coordinates[1]}, Precision: prec,
		Confidence: conf, Source: p.Name(), Label: f.Properties.Label}, nil
}

// peliasPrecision maps Pelias layers to gcrm's precisions.
func peliasPrecision(layer string) string {
	switch layer {
	case "address", "venue":
		return PrecisionRooftop
	case "street":
		return PrecisionStreet
	case "postalcode":
		return PrecisionPostcode
	case "locality", "localadmin", "borough", "neighbourhood", "microhood":
		return PrecisionCity
	}
	return PrecisionRegion
}
