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
)

// Nominatim is a client of a Nominatim server's /search endpoint (format=jsonv2). The
// public server allows one request per second with an identifying User-Agent; run your
// own for bulk work.
type Nominatim struct {
	c *httpClient
}

// NewNominatim returns a client for the server at opt.BaseURL.
func NewNominatim(opt HTTPOptions) *Nominatim { return &Nominatim{c: newHTTPClient(opt)} }

// Name is "nominatim".
func (n *Nominatim) Name() string { return "nominatim" }

type nominatimPlace struct {
	Lat         string  `json:"lat"`
	Lon         string  `json:"lon"`
	Category    string  `json:"category"`
	Class       string  `json:"class"` // format=json calls category class
	Type        string  `json:"type"`
	PlaceRank   int     `json:"place_rank"`
	Importance  float64 `json:"importance"`
	AddressType string  `json:"addresstype"`
	DisplayName string  `json:"display_name"`
}

// Geocode asks the server with a structured query when q has fields, free text otherwise.
// Returns EINVALID for an empty query, ENOTFOUND when the server finds nothing and
// EUNAVAILABLE when it cannot be reached (after retries) or refuses the request.
func (n *Nominatim) Geocode(ctx context.Context, q Query) (Result, error) {
	if q.Empty() {
		return Result{}, emptyQuery()
	}
	v := url.Values{"format": {"jsonv2"}, "limit": {"1"}, "addressdetails": {"1"}}
	if strings.TrimSpace(q.Text) != "" {
		v.Set("q", q.Text)
	} else {
		set := func(k, s string) {
			if s = strings.TrimSpace(s); s != "" {
				v.Set(k, s)
			}
		}
		set("street", strings.TrimSpace(q.HouseNumber+" "+q.Street))
		set("city", q.City)
		set("state", q.Region)
		set("postalcode", q.Postcode)
		set("country", q.Country)
	}
	body, err := n.c.get(ctx, n.Name(), strings.TrimRight(n.c.opt.BaseURL, "/")+"/search?"+v.Encode())
	var se *statusError
	if errors.As(err, &se) {
		return Result{}, geo.Errorf(geo.EUNAVAILABLE, "nominatim rejected the query: %v", se)
	}
	if err != nil {
		return Result{}, err
	}
	var places []nominatimPlace
	if err := json.Unmarshal(body, &places); err != nil {
		return Result{}, geo.Errorf(geo.EUNAVAILABLE, "nominatim answered something that is not its JSON: %v", err)
	}
	if len(places) == 0 {
		return Result{}, notFound("nominatim found no place for %q", q.String())
	}
	p := places[0]
	lat, err1 := strconv.ParseFloat(p.Lat, 64)
	lon, err2 := strconv.ParseFloat(p.Lon, 64)
	if err1 != nil || err2 != nil || !geo.ValidLonLat(lon, lat) {
		return Result{}, geo.Errorf(geo.EUNAVAILABLE, "nominatim answered coordinates %q,%q that are not a point", p.Lat, p.Lon)
	}
	prec, conf := nominatimPrecision(p)
	return Result{Point: orb.Point{lon, lat}, Precision: prec, Confidence: conf, Source: n.Name(), Label: p.DisplayName}, nil
}

// nominatimPrecision maps Nominatim's address rank (30 house, 26–27 street, 13–25 places
// and postcodes, below that regions) to gcrm's precisions.
func nominatimPrecision(p nominatimPlace) (string, float64) {
	switch {
	case p.AddressType == "postcode" || p.Type == "postcode":
		return PrecisionPostcode, 0.8
	case p.PlaceRank >= 28:
		return PrecisionRooftop, 0.9
	case p.PlaceRank >= 26:
		return PrecisionStreet, 0.7
	case p.PlaceRank >= 13:
		return PrecisionCity, 0.7
	}
	return PrecisionRegion, 0.3
}
