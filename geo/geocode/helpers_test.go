package geocode_test

import (
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/gcrm/gcrm/geo/geocode"
)

// sharedData returns the path of a file under the project's shared data folder (../shared/data
// beside the repository), failing the test when it is missing: the data is part of the
// test set-up, never skipped.
func sharedData(t testing.TB, rel string) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for d := dir; d != filepath.Dir(d); d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			p := filepath.Join(filepath.Dir(d), "shared", "data", rel)
			if _, err := os.Stat(p); err != nil {
				t.Fatalf("test data %s is missing: %v", p, err)
			}
			return p
		}
	}
	t.Fatal("go.mod not found above " + dir)
	return ""
}

var (
	usOnce sync.Once
	usGaz  *geocode.Gazetteer
	usErr  error
)

// usGazetteer loads the US ZCTA centroids and GeoNames places once per test binary.
func usGazetteer(t testing.TB) *geocode.Gazetteer {
	t.Helper()
	zcta := sharedData(t, "places/us/us_zcta_centroids_2021_uszips.csv")
	cities := sharedData(t, "places/us/geonames_cities1000_US.csv")
	usOnce.Do(func() {
		g := geocode.NewGazetteer("US")
		if _, usErr = g.LoadFile(zcta); usErr != nil {
			return
		}
		_, usErr = g.LoadFile(cities)
		usGaz = g
	})
	if usErr != nil {
		t.Fatal(usErr)
	}
	return usGaz
}
