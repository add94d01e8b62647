package geocode

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"strconv"
	"strings"

	"github.com/gcrm/gcrm/geo"
	"github.com/paulmach/orb"
)

// Nominatim is a client of a Nominatim server's /search and /reverse endpoints
// (format=jsonv2). The public server allows one request per second with an identifying
// User-Agent; run your own for bulk work.
type Nominatim struct {
	c *httpClient
}

// NewNominatim returns a client for the server at opt.BaseURL.
func NewNominatim(opt HTTPOptions) *Nominatim { return &Nominatim{c: newHTTPClient(opt)} }

// Name is "nominatim".
func (n *Nominatim) Name() string { return "nominatim" }

// nominatimPlace is one place of an answer. Servers differ in what they send: jsonv2 has
// category and place_rank, format=json and servers before 3.x send class and no rank;
// coordinates are strings, numbers from some compatible services.
type nominatimPlace struct {
	Lat         flexFloat `json:"lat"`
	Lon         flexFloat `json:"lon"`
	Category    string    `json:"category"`
	Class       string    `json:"class"`
	Type        string    `json:"type"`
	PlaceRank   *int      `json:"place_rank"`
	AddressType string    `json:"addresstype"`
	DisplayName string    `json:"display_name"`
	Error       string    `json:"error"` // /reverse: {"error":"Unable to geocode"}
}

// flexFloat decodes a JSON number or a string holding one.
type flexFloat struct {
	v  float64
	ok bool
}

func (f *flexFloat) UnmarshalJSON(b []byte) error {
	s := string(bytes.Trim(b, `"`))
	if s == "" || s == "null" {
		return nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return err
	}
	f.v, f.ok = v, true
	return nil
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
	body, err := n.get(ctx, "/search?"+v.Encode())
	if err != nil {
		return Result{}, err
	}
	var places []nominatimPlace
	if err := json.Unmarshal(body, &places); err != nil {
		return Result{}, geo.Errorf(geo.EUNAVAILABLE, "nominatim answered something that is not its JSON: %v: %s", err, snippet(body))
	}
	if len(places) == 0 {
		return Result{}, notFound("nominatim found no place for %q", q.String())
	}
	return n.result(places[0])
}

// Reverse returns the address or place the server finds at p. Returns ENOTFOUND when the
// server has nothing there ({"error":"Unable to geocode"}), EINVALID for a point outside
// WGS84 and EUNAVAILABLE as Geocode does.
func (n *Nominatim) Reverse(ctx context.Context, p orb.Point) (Result, error) {
	if !geo.ValidLonLat(p[0], p[1]) {
		return Result{}, geo.Errorf(geo.EINVALID, "point %g,%g is outside the world", p[1], p[0])
	}
	v := url.Values{"format": {"jsonv2"}, "addressdetails": {"1"},
		"lat": {strconv.FormatFloat(p[1], 'f', 7, 64)}, "lon": {strconv.FormatFloat(p[0], 'f', 7, 64)}}
	body, err := n.get(ctx, "/reverse?"+v.Encode())
	if err != nil {
		return Result{}, err
	}
	var place nominatimPlace
	if err := json.Unmarshal(body, &place); err != nil {
		return Result{}, geo.Errorf(geo.EUNAVAILABLE, "nominatim answered something that is not its JSON: %v: %s", err, snippet(body))
	}
	if place.Error != "" {
		return Result{}, notFound("nominatim has nothing at %g,%g: %s", p[1], p[0], place.Error)
	}
	return n.result(place)
}

func (n *Nominatim) get(ctx context.Context, path string) ([]byte, error) {
	body, err := n.c.get(ctx, n.Name(), strings.TrimRight(n.c.opt.BaseURL, "/")+path)
	var se *statusError
	if errors.As(err, &se) {
		var e nominatimPlace
		if json.Unmarshal(se.body, &e) == nil && e.Error != "" && se.status == 404 {
			return nil, notFound("nominatim: %s", e.Error)
		}
		return nil, geo.Errorf(geo.EUNAVAILABLE, "nominatim rejected the query: %v", se)
	}
	return body, err
}

func (n *Nominatim) result(p nominatimPlace) (Result, error) {
	if !p.Lat.ok || !p.Lon.ok || !geo.ValidLonLat(p.Lon.v, p.Lat.v) {
		return Result{}, geo.Errorf(geo.EUNAVAILABLE, "nominatim answered coordinates %v,%v that are not a point", p.Lat.v, p.Lon.v)
	}
	prec, conf := nominatimPrecision(p)
	return Result{Point: orb.Point{p.Lon.v, p.Lat.v}, Precision: prec, Confidence: conf, Source: n.Name(), Label: p.DisplayName}, nil
}

// nominatimPrecision maps Nominatim's address rank (30 house or POI, 26–27 street, 13–25
// places and postcodes, below that regions) to gcrm's precisions. Ranks 13–25 count as a
// city only for settlements (category place or boundary): a stream or a forest of that
// rank is no place to put a customer. Answers without place_rank (old servers, format=json)
// are ranked by category and type.
func nominatimPrecision(p nominatimPlace) (string, float64) {
	cat := p.Category
	if cat == "" {
		cat = p.Class
	}
	rank := 0
	if p.PlaceRank != nil {
		rank = *p.PlaceRank
	} else {
		switch {
		case cat == "place" && p.Type == "house":
			rank = 30
		case cat == "place" || cat == "boundary":
			rank = 16
		case cat == "highway":
			rank = 26
		case cat != "":
			rank = 30 // a building, shop, amenity, stadium…: the feature itself
		}
	}
	switch {
	case p.AddressType == "postcode" || p.Type == "postcode":
		return PrecisionPostcode, 0.8
	case rank >= 28:
		return PrecisionRooftop, 0.9
	case rank >= 26:
		return PrecisionStreet, 0.7
	case rank >= 13 && (cat == "place" || cat == "boundary"):
		return PrecisionCity, 0.7
	}
	return PrecisionRegion, 0.3
}
