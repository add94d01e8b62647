package web_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gcrm/gcrm/crm"
	"github.com/gcrm/gcrm/geo/postgis/pgtest"
	"github.com/gcrm/gcrm/olap"
	"github.com/gcrm/gcrm/web"
)

// footfallServer imports the long footfall CSV in into a new database and serves its
// footfall routes (cells at resolution 10).
func footfallServer(t *testing.T, in string) (*web.Server, *httptest.Server) {
	db := pgtest.New(t)
	if _, err := (&crm.FootfallStore{DB: db}).ImportCounts(context.Background(), strings.NewReader(in), crm.FootfallFormat{}, nil); err != nil {
		t.Fatal(err)
	}
	srv := &web.Server{DB: db, Customers: crm.NewStore(db), Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	srv.Mounts = append(srv.Mounts, srv.FootfallRoutes(&olap.FootfallCache{DB: db, Options: olap.FootfallOptions{Res: 10}}))
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return srv, ts
}

func TestFootfallAPI(t *testing.T) {
	// Two sensors ~200 m apart in Melbourne, Monday 7 January 2019 08:00 UTC (hour-of-week 8),
	// one count missing.
	in := "sensor_id,lat,lon,timestamp,count\n" +
		"a,-37.8136,144.9631,2019-01-07 08:00,100\n" +
		"a,-37.8136,144.9631,2019-01-14 08:00,300\n" +
		"b,-37.8150,144.9650,2019-01-07 08:00,-1\n" +
		"b,-37.8150,144.9650,2019-01-14 08:00,50\n"
	srv, ts := footfallServer(t, in)
	token := userToken(t, srv, "rep@test.gcrm", crm.RoleRep)
	get := func(q string) (int, string) {
		req, _ := http.NewRequest("GET", ts.URL+"/api/v1/footfall"+q, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	status, body := get("?how=hour-of-week&key=8")
	if status != 200 {
		t.Fatalf("status %d: %s", status, body)
	}
	var res struct {
		How    string               `json:"how"`
		Res    int                  `json:"res"`
		Values []olap.FootfallValue `json:"values"`
	}
	if err := json.Unmarshal([]byte(body), &res); err != nil {
		t.Fatal(err)
	}
	var measured, estimated int
	for _, v := range res.Values {
		switch {
		case !v.Estimated && v.N == 2 && v.Mean == 200: // sensor a: (100+300)/2
			measured++
		case !v.Estimated && v.N == 1 && v.Mean == 50: // sensor b: the missing hour is left out, not 0
			measured++
		case v.Estimated && v.Mean >= 50-1e-9 && v.Mean <= 200+1e-9: // a weighted mean of 200 and 50
			estimated++
		default:
			t.Errorf("unexpected value %+v", v)
		}
	}
	if res.How != "hour-of-week" || res.Res != 10 || measured != 2 || estimated == 0 {
		t.Fatalf("how %s res %d: %d measured, %d estimated", res.How, res.Res, measured, estimated)
	}
	// One cell, by its index; without estimates; by bbox.
	cell := res.Values[0].Cell
	if status, body := get("?key=8&cell=" + cell); status != 200 || !strings.Contains(body, cell) {
		t.Errorf("by cell: %d %s", status, body)
	}
	if status, body := get("?key=8&estimates=false"); status != 200 || strings.Contains(body, `"estimated":true`) {
		t.Errorf("without estimates: %d %s", status, body)
	}
	if status, body := get("?key=8&bbox=144.96,-37.82,144.97,-37.81"); status != 200 || !strings.Contains(body, `"mean":200`) {
		t.Errorf("by bbox: %d %s", status, body)
	}
	for _, q := range []string{"?how=minute", "?key=200", "?res=16", "?cell=zz", "?bbox=1,2,3", "?estimates=maybe"} {
		if status, body := get(q); status != 400 || !strings.Contains(body, "problem") && !strings.Contains(body, "detail") {
			t.Errorf("%s: %d %s, want 400", q, status, body)
		}
	}
}

func TestFootfallAPI_GeoJSON(t *testing.T) {
	in := "sensor_id,lat,lon,timestamp,count\na,-37.8136,144.9631,2019-01-07 08:00,100\n"
	srv, ts := footfallServer(t, in)
	req, _ := http.NewRequest("GET", ts.URL+"/api/v1/footfall?key=8&format=geojson&estimates=false", nil)
	req.Header.Set("Authorization", "Bearer "+userToken(t, srv, "m@test.gcrm", crm.RoleMarketer))
	resp, err := ts.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var fc struct {
		Type     string `json:"type"`
		Features []struct {
			Geometry struct {
				Type        string         `json:"type"`
				Coordinates [][][2]float64 `json:"coordinates"`
			} `json:"geometry"`
			Properties map[string]any `json:"properties"`
		} `json:"features"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&fc); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/geo+json" || fc.Type != "FeatureCollection" || len(fc.Features) != 1 {
		t.Fatalf("status %d %s: %+v", resp.StatusCode, resp.Header.Get("Content-Type"), fc)
	}
	f := fc.Features[0]
	ring := f.Geometry.Coordinates[0]
	if f.Geometry.Type != "Polygon" || len(ring) != 7 || ring[0] != ring[6] || f.Properties["mean"] != 100.0 || f.Properties["estimated"] != false {
		t.Fatalf("feature %+v", f)
	}
	if p := ring[0]; p[0] < 144.9 || p[0] > 145 || p[1] > -37.8 || p[1] < -37.9 {
		t.Fatalf("hexagon at %v, want [lon, lat] near Melbourne", p)
	}
}
