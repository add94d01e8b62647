package geocode

import (
	"context"
	"strings"

	"github.com/gcrm/gcrm/geo"
	"github.com/paulmach/orb"
)

// Precisions, finest first. They are stored in customers.geocode_precision.
const (
	PrecisionRooftop  = "rooftop"  // the building or address point itself
	PrecisionStreet   = "street"   // somewhere on the street (number not found)
	PrecisionPostcode = "postcode" // the postcode area's centroid
	PrecisionCity     = "city"     // the populated place's point
	PrecisionRegion   = "region"   // the state/region's (population-weighted) centre
	PrecisionManual   = "manual"   // placed by a user (search or dragged pin)
	PrecisionGiven    = "given"    // coordinates came with the record
)

// PrecisionRank orders precisions from finest (0) to coarsest; unknown precisions rank last.
func PrecisionRank(p string) int {
	switch p {
	case PrecisionManual, PrecisionGiven:
		return 0
	case PrecisionRooftop:
		return 1
	case PrecisionStreet:
		return 2
	case PrecisionPostcode:
		return 3
	case PrecisionCity:
		return 4
	case PrecisionRegion:
		return 5
	}
	return 6
}

// Query is one address to place. Structured fields win over Text; Text alone is parsed with
// ParseAddress.
type Query struct {
	Text        string `json:"text,omitempty"` // free-form "12 Main St, Springfield, IL 62701"
	HouseNumber string `json:"housenumber,omitempty"`
	Street      string `json:"street,omitempty"`
	City        string `json:"city,omitempty"`
	Region      string `json:"region,omitempty"` // state / province, name or code
	Postcode    string `json:"postcode,omitempty"`
	Country     string `json:"country,omitempty"` // ISO 3166-1 alpha-2 or name; "" = any
}

// Empty reports whether q has nothing to search for.
func (q Query) Empty() bool {
	for _, s := range [...]string{q.Text, q.HouseNumber, q.Street, q.City, q.Region, q.Postcode} {
		if strings.TrimSpace(s) != "" {
			return false
		}
	}
	return true
}

// Structured returns q with Text parsed into the empty structured fields, and the country
// normalised to an ISO code where it is known.
func (q Query) Structured() Query {
	if strings.TrimSpace(q.Text) != "" {
		p := ParseAddress(q.Text)
		if q.HouseNumber == "" && q.Street == "" {
			q.HouseNumber, q.Street = p.HouseNumber, p.Street
		}
		if q.City == "" {
			q.City = p.City
		}
		if q.Region == "" {
			q.Region = p.Region
		}
		if q.Postcode == "" {
			q.Postcode = p.Postcode
		}
		if q.Country == "" {
			q.Country = p.Country
		}
		q.Text = ""
	}
	if q.HouseNumber == "" && q.Street != "" {
		q.HouseNumber, q.Street = splitHouseNumber(q.Street)
	}
	q.Country = CountryCode(q.Country)
	return q
}

// Key is the normalised form of q: two queries with the same key are the same question, so
// the cache answers the second.
func (q Query) Key() string {
	s := q.Structured()
	return strings.Join([]string{
		NormalizeHouseNumber(s.HouseNumber), NormalizeStreet(s.Street), NormalizePlace(s.City),
		RegionKey(s.Region), NormalizePostcode(s.Postcode), s.Country,
	}, "|")
}

// String is the query as one line, for provider requests and messages.
func (q Query) String() string {
	if strings.TrimSpace(q.Text) != "" {
		return strings.TrimSpace(q.Text)
	}
	var parts []string
	street := strings.TrimSpace(strings.TrimSpace(q.HouseNumber) + " " + strings.TrimSpace(q.Street))
	for _, s := range []string{street, q.City, strings.TrimSpace(q.Region + " " + q.Postcode), q.Country} {
		if s = strings.TrimSpace(s); s != "" {
			parts = append(parts, s)
		}
	}
	return strings.Join(parts, ", ")
}

// Result is where a query was placed.
type Result struct {
	Point      orb.Point `json:"point"` // [lon, lat]
	Precision  string    `json:"precision"`
	Confidence float64   `json:"confidence"` // 0..1
	Source     string    `json:"source"`     // provider that answered: gazetteer, osm, nominatim, pelias, cache:…
	Label      string    `json:"label,omitempty"`
	// Ambiguous is set when several candidates matched equally well (two Springfields in a
	// state) and the most populous one was chosen; Candidates says how many there were.
	Ambiguous  bool `json:"ambiguous,omitempty"`
	Candidates int  `json:"candidates,omitempty"`
}

// Geocoder places one query. Geocode returns ENOTFOUND (with a message saying what was not
// found) when it cannot place the query, EINVALID for an empty query and EUNAVAILABLE when
// the provider cannot be reached; other errors are internal.
type Geocoder interface {
	Name() string
	Geocode(ctx context.Context, q Query) (Result, error)
}

// Reverser finds what a service has at a point: the nearest address, venue or place (the
// Nominatim and Pelias clients). Reverse returns ENOTFOUND when there is nothing,
// EINVALID for a point outside WGS84 and EUNAVAILABLE when the service cannot be reached.
type Reverser interface {
	Name() string
	Reverse(ctx context.Context, p orb.Point) (Result, error)
}

func notFound(format string, args ...any) error { return geo.Errorf(geo.ENOTFOUND, format, args...) }

func emptyQuery() error {
	return geo.Errorf(geo.EINVALID, "the address is empty: give a street, city, state or postcode")
}
