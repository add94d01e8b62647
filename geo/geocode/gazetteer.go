package geocode

import (
	"context"
	"strings"

	"github.com/paulmach/orb"
)

// Place is a populated place of the gazetteer.
type Place struct {
	ID         int64     `json:"id,omitempty"`     // GeoNames id, 0 when unknown
	Name       string    `json:"name"`             // as published ("St. Louis")
	Country    string    `json:"country"`          // ISO 3166-1 alpha-2
	Admin1     string    `json:"admin1,omitempty"` // first-level region code: the USPS code in the US, GeoNames admin1 elsewhere
	Population int64     `json:"population"`
	Point      orb.Point `json:"point"` // [lon, lat]
}

// Postcode is a postcode area's centroid.
type Postcode struct {
	Code    string    `json:"code"` // normalised (NormalizePostcode)
	Country string    `json:"country"`
	Place   string    `json:"place,omitempty"` // the place the postcode is named after, when known
	Admin1  string    `json:"admin1,omitempty"`
	Point   orb.Point `json:"point"`
}

// Gazetteer places postcodes, populated places ("city, state") and regions offline, from
// GeoNames and Census data held in memory. Load it first (Add*, Load*), then query it from
// any number of goroutines: it is not safe to add while querying.
type Gazetteer struct {
	// DefaultCountry is the country assumed for queries that name none (e.g. "US"); with ""
	// such queries match places of any country.
	DefaultCountry string

	places    []Place
	labels    []string            // labels[i] is places[i]'s "Name, ADMIN, CC", built once
	byName    map[nameKey][]int32 // (CC, ADMIN, name), (CC, "", name), ("", "", name) → places, most populous first
	postcodes map[nameKey]int32   // (CC, "", CODE) → index into pcs
	pcs       []Postcode
	pcLabels  []string
	regions   map[string]*regionCentre // "CC|ADMIN" → population-weighted centre
	admin1    map[string]string        // "CC|FOLDED NAME" → admin1 code (from LoadAdmin1)
	rev       reverseIndex             // nearest-neighbour grids, built on the first reverse query
}

// nameKey is a map key of strings: hashing the parts avoids building a joined key for
// every lookup (the gazetteer answers hundreds of thousands of queries a second).
type nameKey struct{ country, admin, name string }

type regionCentre struct {
	sumX, sumY, weight float64
	name               string
}

// NewGazetteer returns an empty gazetteer assuming defaultCountry for queries without one.
func NewGazetteer(defaultCountry string) *Gazetteer {
	return &Gazetteer{
		DefaultCountry: defaultCountry,
		byName:         map[nameKey][]int32{},
		postcodes:      map[nameKey]int32{},
		regions:        map[string]*regionCentre{},
		admin1:         map[string]string{},
	}
}

// Name is "gazetteer".
func (g *Gazetteer) Name() string { return "gazetteer" }

// Len returns the number of places and postcodes held.
func (g *Gazetteer) Len() (places, postcodes int) { return len(g.places), len(g.pcs) }

// AddPlace adds a populated place; alt are other names it answers to (ASCII name,
// alternate spellings).
func (g *Gazetteer) AddPlace(p Place, alt ...string) {
	p.Country = strings.ToUpper(p.Country)
	p.Admin1 = strings.ToUpper(p.Admin1)
	i := int32(len(g.places))
	g.places = append(g.places, p)
	g.labels = append(g.labels, placeLabel(p))
	seen := map[string]bool{}
	for _, name := range append([]string{p.Name}, alt...) {
		n := NormalizePlace(name)
		if n == "" || seen[n] {
			continue
		}
		seen[n] = true
		g.index(nameKey{p.Country, p.Admin1, n}, i)
		g.index(nameKey{p.Country, "", n}, i)
		g.index(nameKey{"", "", n}, i)
	}
	if p.Admin1 != "" {
		k := p.Country + "|" + p.Admin1
		rc := g.regions[k]
		if rc == nil {
			rc = &regionCentre{}
			g.regions[k] = rc
		}
		w := float64(p.Population) + 1
		rc.sumX += p.Point[0] * w
		rc.sumY += p.Point[1] * w
		rc.weight += w
	}
}

// index inserts place i into the list under key, keeping the list most populous first.
func (g *Gazetteer) index(key nameKey, i int32) {
	l := g.byName[key]
	pop := g.places[i].Population
	j := len(l)
	for j > 0 && g.places[l[j-1]].Population < pop {
		j--
	}
	l = append(l, 0)
	copy(l[j+1:], l[j:])
	l[j] = i
	g.byName[key] = l
}

// AddPostcode adds a postcode centroid; a code already present keeps its first centroid
// (load the preferred source first).
func (g *Gazetteer) AddPostcode(pc Postcode) {
	pc.Country = strings.ToUpper(pc.Country)
	pc.Code = NormalizePostcode(pc.Code)
	if pc.Country == "US" {
		if z := usZIP(pc.Code); z != "" {
			pc.Code = z
		}
	}
	k := nameKey{pc.Country, "", pc.Code}
	if _, ok := g.postcodes[k]; ok || pc.Code == "" {
		return
	}
	g.postcodes[k] = int32(len(g.pcs))
	g.pcs = append(g.pcs, pc)
	label := pc.Code
	if pc.Place != "" {
		label = pc.Code + " " + pc.Place
	}
	g.pcLabels = append(g.pcLabels, label)
}

// AddAdmin1 names a first-level region ("ES", "56", "Catalonia") so queries can give the
// region by name outside the US.
func (g *Gazetteer) AddAdmin1(country, code, name string) {
	g.admin1[strings.ToUpper(country)+"|"+strings.ToUpper(fold(name))] = strings.ToUpper(code)
	if rc := g.regions[strings.ToUpper(country)+"|"+strings.ToUpper(code)]; rc != nil {
		rc.name = name
	}
}

// Confidence scores of the gazetteer's answers (before ambiguity discounts).
const (
	confPostcode         = 0.9
	confPostcodeMismatch = 0.6 // the query's city is not the postcode's place
	confCityRegion       = 0.85
	confCityOnly         = 0.6
	confRegion           = 0.3
)

// Geocode places q by postcode, else by city (and region), else by region alone. A postcode
// whose place disagrees with the query's city, and a city found in several places (ranked
// by population, flagged Ambiguous), get lower confidence. Returns EINVALID for an empty
// query and ENOTFOUND when neither postcode, city nor region is known.
func (g *Gazetteer) Geocode(_ context.Context, q Query) (Result, error) {
	if q.Empty() {
		return Result{}, emptyQuery()
	}
	q = q.Structured()
	country := q.Country
	if country == "" {
		country = g.DefaultCountry
	}
	city := NormalizePlace(q.City)
	if q.Postcode != "" {
		if r, ok := g.postcode(country, q.Postcode, city); ok {
			return r, nil
		}
	}
	region := g.regionCode(country, q.Region)
	if city != "" && q.HouseNumber == "" && q.Street != "" {
		// "Washington, D.C., DC" parses as street "Washington", city "D.C.": a "street"
		// without a number may be the first half of a place name holding a comma, or the
		// place itself ("Springfield, Sangamon County, IL").
		for _, name := range []string{NormalizePlace(q.Street + " " + q.City), NormalizePlace(q.Street)} {
			if _, ok := g.byName[nameKey{country, region, name}]; ok && g.byName[nameKey{country, region, city}] == nil {
				city = name
				break
			}
		}
	}
	if city != "" {
		if r, ok := g.city(country, region, city); ok {
			return r, nil
		}
		if region != "" { // the state may be wrong: try the whole country
			if r, ok := g.city(country, "", city); ok {
				r.Confidence *= 0.5
				return r, nil
			}
		}
		if q.Country == "" && country != "" { // not in the default country: anywhere
			if r, ok := g.city("", "", city); ok {
				r.Confidence *= 0.5
				return r, nil
			}
		}
	}
	if region != "" && city == "" {
		if rc := g.regions[country+"|"+region]; rc != nil && rc.weight > 0 {
			return Result{Point: orb.Point{rc.sumX / rc.weight, rc.sumY / rc.weight}, Precision: PrecisionRegion,
				Confidence: confRegion, Source: g.Name(), Label: region + ", " + country}, nil
		}
	}
	switch {
	case q.Postcode != "" && city != "":
		return Result{}, notFound("neither postcode %q nor city %q is in the offline gazetteer", q.Postcode, q.City)
	case q.Postcode != "":
		return Result{}, notFound("postcode %q is not in the offline gazetteer", q.Postcode)
	case city != "":
		return Result{}, notFound("city %q%s is not in the offline gazetteer", q.City, inRegion(q.Region))
	case region != "":
		return Result{}, notFound("region %q is not in the offline gazetteer", q.Region)
	}
	return Result{}, notFound("the address has no postcode or city to place it with the offline gazetteer")
}

func inRegion(r string) string {
	if r == "" {
		return ""
	}
	return " in " + r
}

func (g *Gazetteer) regionCode(country, region string) string {
	if region == "" {
		return ""
	}
	if country == "US" || country == "" {
		if c := USState(region); c != "" {
			return c
		}
	}
	k := strings.ToUpper(fold(region))
	if c, ok := g.admin1[country+"|"+k]; ok {
		return c
	}
	return k
}

func (g *Gazetteer) postcode(country, code, city string) (Result, bool) {
	norm := NormalizePostcode(code)
	i, ok := g.postcodes[nameKey{country, "", norm}]
	if !ok && (country == "US" || country == "") {
		if z := usZIP(code); z != "" {
			i, ok = g.postcodes[nameKey{"US", "", z}]
		}
	}
	if !ok {
		return Result{}, false
	}
	pc := g.pcs[i]
	r := Result{Point: pc.Point, Precision: PrecisionPostcode, Confidence: confPostcode, Source: g.Name(), Label: g.pcLabels[i]}
	if pc.Place != "" && city != "" && NormalizePlace(pc.Place) != city {
		r.Confidence = confPostcodeMismatch
	}
	return r, true
}

func (g *Gazetteer) city(country, region, name string) (Result, bool) {
	cands := g.byName[nameKey{country, region, name}]
	if len(cands) == 0 {
		// "New York" is "New York City" in GeoNames; "Carson City" may be written "Carson".
		alt := name + " city"
		if n, ok := strings.CutSuffix(name, " city"); ok {
			alt = n
		}
		cands = g.byName[nameKey{country, region, alt}]
		if len(cands) == 0 {
			return Result{}, false
		}
	}
	p := g.places[cands[0]]
	conf := confCityOnly
	if region != "" {
		conf = confCityRegion
	}
	r := Result{Point: p.Point, Precision: PrecisionCity, Source: g.Name(), Label: g.labels[cands[0]], Candidates: len(cands)}
	if len(cands) > 1 {
		// The most populous wins; confidence falls with the share of people living in the
		// other candidates, and always stays below LowConfidence so the record is reviewed.
		var total float64
		for _, c := range cands {
			total += float64(g.places[c].Population) + 1
		}
		share := (float64(p.Population) + 1) / total
		conf *= 0.3 + 0.25*share
		r.Ambiguous = true
	}
	r.Confidence = conf
	return r, true
}

func placeLabel(p Place) string {
	if p.Admin1 != "" {
		return p.Name + ", " + p.Admin1 + ", " + p.Country
	}
	return p.Name + ", " + p.Country
}

// Places returns the places named name (normalised matching) in country and region ("" for
// any), most populous first.
func (g *Gazetteer) Places(country, region, name string) []Place {
	var out []Place
	for _, i := range g.byName[nameKey{strings.ToUpper(country), g.regionCode(strings.ToUpper(country), region), NormalizePlace(name)}] {
		out = append(out, g.places[i])
	}
	return out
}
