package crm

import (
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gcrm/gcrm/geo"
)

// importField is a column of an import file that maps onto a customer field.
type importField int

const (
	fExternalID importField = iota
	fName
	fKind
	fLat
	fLon
	fStreet
	fCity
	fRegion
	fPostcode
	fCountry
	fSegment
	fStatus
	fOwner
	fRevenue
	fEmail
	fPhone
	fConsentEmail
	fCreatedAt
	numImportFields
)

// importFieldNames are the canonical column names, indexed by importField.
var importFieldNames = [numImportFields]string{
	"external_id", "name", "kind", "lat", "lon", "street", "city", "region", "postcode",
	"country", "segment", "status", "owner", "revenue", "email", "phone", "consent_email", "created_at",
}

// importAliases maps normalised header names onto fields; any other column goes to the
// record's attributes under its header name.
var importAliases = map[string]importField{
	"externalid": fExternalID, "ext_id": fExternalID, "customer_id": fExternalID,
	"company": fName, "type": fKind,
	"latitude": fLat, "longitude": fLon, "lng": fLon, "long": fLon,
	"address": fStreet, "street_address": fStreet, "town": fCity,
	"state": fRegion, "province": fRegion,
	"zip": fPostcode, "zipcode": fPostcode, "zip_code": fPostcode, "postal_code": fPostcode, "postalcode": fPostcode,
	"e_mail": fEmail, "telephone": fPhone, "phone_number": fPhone, "email_consent": fConsentEmail,
	"created": fCreatedAt, "created_date": fCreatedAt, "created_on": fCreatedAt, "date_created": fCreatedAt,
	"creation_date": fCreatedAt,
}

func init() {
	for i, n := range importFieldNames {
		importAliases[n] = importField(i)
	}
}

// importHeader is an import file's header, mapped.
type importHeader struct {
	names   []string             // the columns as written in the file
	fieldOf []importField        // per column: its field, or -1 for an attribute
	colOf   [numImportFields]int // per field: its column, or -1 when the file lacks it
	attrs   []int                // columns that go to attributes
	keys    []string             // attribute key per column (only for attribute columns)
}

func normaliseColumn(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	return strings.NewReplacer(" ", "_", "-", "_", ".", "_").Replace(s)
}

// mapHeader maps the header row. It returns EINVALID when the file cannot be imported at
// all: no name column, lat without lon, a column named twice.
func mapHeader(cols []string) (*importHeader, error) {
	h := &importHeader{names: append([]string(nil), cols...), fieldOf: make([]importField, len(cols)), keys: make([]string, len(cols))}
	for i := range h.colOf {
		h.colOf[i] = -1
	}
	seen := map[string]int{}
	for i, c := range cols {
		n := normaliseColumn(c)
		if n == "" {
			n = "column_" + strconv.Itoa(i+1)
		}
		if j, dup := seen[n]; dup {
			return nil, geo.Errorf(geo.EINVALID, "the header names column %q twice (columns %d and %d): rename one", strings.TrimSpace(c), j+1, i+1)
		}
		seen[n] = i
		f, ok := importAliases[n]
		if ok && h.colOf[f] >= 0 {
			return nil, geo.Errorf(geo.EINVALID, "columns %q and %q both mean %s: keep one", cols[h.colOf[f]], c, importFieldNames[f])
		}
		if !ok {
			h.fieldOf[i] = -1
			h.attrs = append(h.attrs, i)
			h.keys[i] = strings.TrimSpace(c)
			if h.keys[i] == "" {
				h.keys[i] = n
			}
			continue
		}
		h.fieldOf[i], h.colOf[f] = f, i
	}
	switch {
	case h.colOf[fName] < 0:
		return nil, geo.Errorf(geo.EINVALID, "the file has no name column: the first row must name the columns (external_id,name,kind,lat,lon,…)")
	case (h.colOf[fLat] < 0) != (h.colOf[fLon] < 0):
		return nil, geo.Errorf(geo.EINVALID, "the file has a lat column without lon, or lon without lat: give both")
	}
	return h, nil
}

// has reports whether the file has a column for f.
func (h *importHeader) has(f importField) bool { return h.colOf[f] >= 0 }

// parseConsent reads a yes/no value.
func parseConsent(s string) (bool, bool) {
	switch strings.ToLower(s) {
	case "", "0", "false", "f", "no", "n", "off":
		return false, true
	case "1", "true", "t", "yes", "y", "on", "x":
		return true, true
	}
	return false, false
}

// parseCreatedAt reads a creation date: an ISO date (2024-03-15, taken as 00:00 UTC) or an
// RFC 3339 timestamp with its offset (2024-03-15T10:20:00Z, 2024-03-15T10:20:00+02:00).
func parseCreatedAt(s string) (time.Time, bool) {
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, true
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, true
	}
	return time.Time{}, false
}

// quoteValue quotes a user value for a message, shortened so a message stays readable.
func quoteValue(s string) string {
	if len(s) > 40 {
		cut := 40
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return strconv.Quote(s)
}

// appendJSONString appends s as a JSON string.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}
