package geocode

import (
	"context"

	"github.com/paulmach/orb"
	orbgeo "github.com/paulmach/orb/geo"
)

// Confidence scores of address answers.
const (
	confAddress       = 0.95
	confInterpolated  = 0.75
	confStreet        = 0.5
	sameAddressMeters = 100 // candidates closer than this are one address mapped twice
)

// AddressKey is the lookup key of an address: normalised street and house number.
func AddressKey(street, housenumber string) string {
	return NormalizeStreet(street) + "|" + NormalizeHouseNumber(housenumber)
}

// ChooseAddress picks the answer to q among candidates that share its street and house
// number (exact, or — when the number is not found — anywhere on the street): candidates
// in the query's postcode and city first, mapped points before interpolated ones. Several
// candidates further apart than 100 m make the answer Ambiguous. Returns ENOTFOUND for no
// candidates.
func ChooseAddress(q Query, exact, street []Address, source string) (Result, error) {
	q = q.Structured()
	if len(exact) > 0 {
		c := filterPlace(q, exact)
		best := c[0]
		for _, a := range c[1:] {
			if best.Interpolated && !a.Interpolated {
				best = a
			}
		}
		r := Result{Point: best.Point, Precision: PrecisionRooftop, Confidence: confAddress, Source: source, Label: addressLabel(best)}
		if best.Interpolated {
			r.Confidence = confInterpolated
		}
		if n := distinctPlaces(c); n > 1 {
			r.Ambiguous, r.Candidates, r.Confidence = true, n, r.Confidence*0.6
		}
		return r, nil
	}
	if len(street) > 0 {
		c := filterPlace(q, street)
		// the address of the street nearest to the street's mean point stands for it
		var x, y float64
		for _, a := range c {
			x, y = x+a.Point[0], y+a.Point[1]
		}
		mean := orb.Point{x / float64(len(c)), y / float64(len(c))}
		best := c[0]
		for _, a := range c[1:] {
			if orbgeo.Distance(a.Point, mean) < orbgeo.Distance(best.Point, mean) {
				best = a
			}
		}
		return Result{Point: best.Point, Precision: PrecisionStreet, Confidence: confStreet, Source: source,
			Label: best.Street + ", " + best.City}, nil
	}
	if q.HouseNumber != "" {
		return Result{}, notFound("%s %s is not in the address index", q.Street, q.HouseNumber)
	}
	return Result{}, notFound("street %q is not in the address index", q.Street)
}

// filterPlace keeps the candidates in the query's postcode, else city, when any are.
func filterPlace(q Query, c []Address) []Address {
	if pc := NormalizePostcode(q.Postcode); pc != "" {
		if f := filter(c, func(a Address) bool { return NormalizePostcode(a.Postcode) == pc }); len(f) > 0 {
			c = f
		}
	}
	if city := NormalizePlace(q.City); city != "" {
		if f := filter(c, func(a Address) bool { return NormalizePlace(a.City) == city }); len(f) > 0 {
			c = f
		}
	}
	return c
}

func filter(c []Address, keep func(Address) bool) []Address {
	var out []Address
	for _, a := range c {
		if keep(a) {
			out = append(out, a)
		}
	}
	return out
}

// distinctPlaces counts candidates more than sameAddressMeters apart.
func distinctPlaces(c []Address) int {
	var reps []orb.Point
next:
	for _, a := range c {
		for _, p := range reps {
			if orbgeo.Distance(a.Point, p) < sameAddressMeters {
				continue next
			}
		}
		reps = append(reps, a.Point)
	}
	return len(reps)
}

func addressLabel(a Address) string {
	s := a.Street + " " + a.HouseNumber
	if a.Postcode != "" || a.City != "" {
		s += ","
		if a.Postcode != "" {
			s += " " + a.Postcode
		}
		if a.City != "" {
			s += " " + a.City
		}
	}
	return s
}

// AddressIndex is an in-memory address geocoder over addresses read from an OSM extract
// (gcrm keeps them in PostGIS; this index serves tests, benchmarks and one-off runs).
type AddressIndex struct {
	addrs    []Address
	byKey    map[string][]int32
	byStreet map[string][]int32
}

// NewAddressIndex indexes addrs.
func NewAddressIndex(addrs []Address) *AddressIndex {
	ix := &AddressIndex{addrs: addrs, byKey: map[string][]int32{}, byStreet: map[string][]int32{}}
	for i, a := range addrs {
		ix.byKey[AddressKey(a.Street, a.HouseNumber)] = append(ix.byKey[AddressKey(a.Street, a.HouseNumber)], int32(i))
		s := NormalizeStreet(a.Street)
		ix.byStreet[s] = append(ix.byStreet[s], int32(i))
	}
	return ix
}

// Name is "osm".
func (ix *AddressIndex) Name() string { return "osm" }

// Geocode places q by street and house number (see ChooseAddress). Returns EINVALID for an
// empty query and ENOTFOUND when the query has no street or the street is not indexed.
func (ix *AddressIndex) Geocode(_ context.Context, q Query) (Result, error) {
	if q.Empty() {
		return Result{}, emptyQuery()
	}
	q = q.Structured()
	if q.Street == "" {
		return Result{}, notFound("the address has no street to look up")
	}
	var exact, street []Address
	if q.HouseNumber != "" {
		for _, i := range ix.byKey[AddressKey(q.Street, q.HouseNumber)] {
			exact = append(exact, ix.addrs[i])
		}
	}
	if len(exact) == 0 {
		for _, i := range ix.byStreet[NormalizeStreet(q.Street)] {
			street = append(street, ix.addrs[i])
		}
	}
	return ChooseAddress(q, exact, street, ix.Name())
}
