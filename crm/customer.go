package crm

import (
	"fmt"
	"net/mail"
	"strings"
	"time"

	"github.com/gcrm/gcrm/geo"
	"github.com/paulmach/orb"
)

// Kinds of record.
const (
	KindCustomer = "customer"
	KindProspect = "prospect"
	KindLead     = "lead"
)

// Kinds lists the valid kinds in a fixed order (engine codes are indexes into it).
var Kinds = []string{KindCustomer, KindProspect, KindLead}

// Customer is a customer, prospect or lead. Location is nil while the record is not placed
// on the map (it then has a Geocode.Error saying why).
type Customer struct {
	ID           int64          `json:"id"`
	ExternalID   string         `json:"external_id,omitempty"`
	Kind         string         `json:"kind"`
	Name         string         `json:"name"`
	Street       string         `json:"street,omitempty"`
	City         string         `json:"city,omitempty"`
	Region       string         `json:"region,omitempty"`
	Postcode     string         `json:"postcode,omitempty"`
	Country      string         `json:"country,omitempty"`
	Location     *orb.Point     `json:"-"`
	Cell         geo.Cell       `json:"-"`
	Segment      string         `json:"segment,omitempty"`
	Status       string         `json:"status,omitempty"`
	Owner        string         `json:"owner,omitempty"`
	Revenue      float64        `json:"revenue"`
	Email        string         `json:"email,omitempty"`
	Phone        string         `json:"phone,omitempty"`
	ConsentEmail bool           `json:"consent_email"`
	Attributes   map[string]any `json:"attributes,omitempty"`
	Geocode      Geocode        `json:"geocode"`
	Version      int            `json:"version"`
	Activities   int            `json:"activities"` // activities logged on it (LogActivity)
	Rev          int64          `json:"-"`
	CreatedAt    time.Time      `json:"created_at"`
	UpdatedAt    time.Time      `json:"updated_at"`
}

// Geocode says how a record's location was found.
type Geocode struct {
	Precision  string  `json:"precision,omitempty"` // given, rooftop, street, postcode, city, region, manual
	Confidence float64 `json:"confidence,omitempty"`
	Source     string  `json:"source,omitempty"`
	Error      string  `json:"error,omitempty"`
}

// KindCode returns the index of kind in Kinds, or -1.
func KindCode(kind string) int {
	for i, k := range Kinds {
		if k == kind {
			return i
		}
	}
	return -1
}

// SetLocation places c at lon/lat and derives its H3 cell; it returns EINVALID for
// coordinates outside WGS84.
func (c *Customer) SetLocation(lon, lat float64) error {
	if !geo.ValidLonLat(lon, lat) {
		return geo.Errorf(geo.EINVALID, "location %g,%g is outside the world: lat must be within -90..90 and lon within -180..180", lat, lon)
	}
	p := orb.Point{lon, lat}
	c.Location, c.Cell = &p, geo.CellOf(p, geo.CellResolution)
	return nil
}

// Validate checks the fields a user can get wrong and returns EINVALID naming the field.
func (c *Customer) Validate() error {
	c.Kind = strings.ToLower(strings.TrimSpace(c.Kind))
	if c.Kind == "" {
		c.Kind = KindCustomer
	}
	switch {
	case KindCode(c.Kind) < 0:
		return geo.Errorf(geo.EINVALID, "kind %q is not one of customer, prospect, lead", c.Kind)
	case strings.TrimSpace(c.Name) == "":
		return geo.Errorf(geo.EINVALID, "name is required")
	case c.Email != "" && !validEmail(c.Email):
		return geo.Errorf(geo.EINVALID, "email %q is not an e-mail address", c.Email)
	case c.Revenue != c.Revenue || c.Revenue > 1e13 || c.Revenue < -1e13:
		return geo.Errorf(geo.EINVALID, "revenue %v is out of range", c.Revenue)
	}
	if c.Location != nil {
		if err := c.SetLocation(c.Location[0], c.Location[1]); err != nil {
			return err
		}
	}
	return nil
}

func validEmail(s string) bool {
	if plainEmail(s) {
		return true
	}
	a, err := mail.ParseAddress(s)
	return err == nil && a.Address == s
}

// plainEmail reports whether s is local@domain made of letters, digits, '.', '_', '+' and
// '-' (domain: no '_' or '+'), with no empty dot-separated part: the common case, which
// mail.ParseAddress always accepts unchanged, checked without its allocations (an import
// checks one e-mail per row).
func plainEmail(s string) bool {
	at := strings.IndexByte(s, '@')
	if at <= 0 {
		return false
	}
	return plainDotAtom(s[:at], "._+-") && plainDotAtom(s[at+1:], ".-")
}

func plainDotAtom(s, extra string) bool {
	if s == "" || s[0] == '.' || s[len(s)-1] == '.' || strings.Contains(s, "..") {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte(extra, c) >= 0) {
			return false
		}
	}
	return true
}

// String is for logs.
func (c *Customer) String() string { return fmt.Sprintf("customer %d (%s)", c.ID, c.Name) }
