package web_test

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gcrm/gcrm/crm"
	"github.com/gcrm/gcrm/geo/postgis/pgtest"
	"github.com/gcrm/gcrm/olap"
	"github.com/gcrm/gcrm/tiles"
	"github.com/gcrm/gcrm/web"
	"github.com/go-chi/chi/v5"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/mvt"
)

// newCubeServer is a test server whose writes reach the engine and its cube.
func newCubeServer(t *testing.T) *testServer {
	t.Helper()
	db := pgtest.New(t)
	e := olap.New()
	cube := olap.NewCube()
	e.Observer = cube
	srv := &web.Server{DB: db, Customers: crm.NewStore(db), Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Index: e}
	srv.Mounts = []func(chi.Router){srv.CubeRoutes(cube, e), srv.HexagonTiles(tiles.NewHexagons(cube, e))}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return &testServer{Server: ts, srv: srv, auth: userToken(t, srv, "admin@test.gcrm", crm.RoleAdmin)}
}

type cubeAnswer struct {
	Columns []string `json:"columns"`
	Rows    [][]any  `json:"rows"`
	Source  string   `json:"source"`
}

// cube GETs path (a /api/v1/cube query) and decodes the answer; anything but 200 fails t.
func (ts *testServer) cube(t *testing.T, path string) cubeAnswer {
	t.Helper()
	resp, body := ts.do(t, "GET", path, "")
	if resp.StatusCode != 200 {
		t.Fatalf("%s: %d %s", path, resp.StatusCode, body)
	}
	var a cubeAnswer
	if err := json.Unmarshal([]byte(body), &a); err != nil {
		t.Fatal(err)
	}
	return a
}

func TestCubeAPI(t *testing.T) {
	ts := newCubeServer(t)
	for _, c := range []string{
		`{"name":"A","kind":"customer","lat":30.27,"lon":-97.74,"segment":"SMB","status":"won","owner":"rep1@test.gcrm","revenue":100.25}`,
		`{"name":"B","kind":"customer","lat":30.28,"lon":-97.75,"segment":"ENT","status":"lost","owner":"rep2@test.gcrm","revenue":50}`,
		`{"name":"C","kind":"lead","lat":40.71,"lon":-74.00,"segment":"SMB","owner":"rep1@test.gcrm"}`,
	} {
		if resp, body := ts.do(t, "POST", "/api/v1/customers", c); resp.StatusCode != 201 {
			t.Fatalf("create: %d %s", resp.StatusCode, body)
		}
	}
	get := func(path string) cubeAnswer { return ts.cube(t, path) }
	a := get("/api/v1/cube?measures=records,customers,revenue,conversion_rate,revenue_per_customer&by=segment")
	want := `[["ENT",1,1,50,0,50],["SMB",2,1,100.25,1,100.25]]`
	if b, _ := json.Marshal(a.Rows); string(b) != want {
		t.Fatalf("by segment: %s, want %s", b, want)
	}
	a = get("/api/v1/cube?measures=records&filter=segment:SMB,kind:lead&by=h3:3")
	if len(a.Rows) != 1 || a.Rows[0][1] != float64(1) {
		t.Fatalf("slice and dice: %v", a.Rows)
	}
	a = get("/api/v1/cube?measures=records&bbox=-98,30,-97,31&by=h3:12")
	if len(a.Rows) != 2 || a.Source != "points" {
		t.Fatalf("bbox at h3:12: %+v", a)
	}

	// A rep's cube holds only their records.
	ts.auth = userToken(t, ts.srv, "rep1@test.gcrm", crm.RoleRep)
	a = get("/api/v1/cube?measures=records&by=owner")
	if b, _ := json.Marshal(a.Rows); string(b) != `[["rep1@test.gcrm",2]]` {
		t.Fatalf("rep's cube: %s", b)
	}

	// CSV export of the breakdown.
	resp, body := ts.do(t, "GET", "/api/v1/cube?measures=records,revenue&by=status&format=csv", "")
	if resp.StatusCode != 200 || body != "status,records,revenue\n,1,0.00\nwon,1,100.25\n" {
		t.Fatalf("csv: %d %q", resp.StatusCode, body)
	}

	// Clear 400s naming what is allowed.
	for path, msg := range map[string]string{
		"/api/v1/cube?measures=visits":                  "use one of records, customers",
		"/api/v1/cube?measures=records&by=colour":       "unknown dimension \\\"colour\\\": use one of h3:",
		"/api/v1/cube?measures=records&by=h3:16":        "0..15",
		"/api/v1/cube?measures=records&by=region:state": "there are no region levels",
		"/api/v1/cube?measures=records&filter=colour:x": "unknown dimension",
		"/api/v1/cube?measures=penetration":             "by=region",
		"/api/v1/cube":                                  "measures is required",
		"/api/v1/cube?measures=records&bbox=1,2,3":      "bbox",
	} {
		resp, body := ts.do(t, "GET", path, "")
		if resp.StatusCode != 400 || !strings.Contains(body, msg) {
			t.Errorf("%s: %d %s (want 400 with %q)", path, resp.StatusCode, body, msg)
		}
	}
	resp, body = ts.do(t, "GET", "/api/v1/cube/meta", "")
	if resp.StatusCode != 200 || !strings.Contains(body, `{"name":"conversion_rate","doc":"won / (won + lost)`) {
		t.Fatalf("meta: %d %s", resp.StatusCode, body)
	}
}

// Hexagon tiles: each record in exactly one hexagon, so the distinct hexagons of the tiles
// holding the records add up to the customer tiles' counts, at every zoom band (cube cells
// and, past resolution 9, the point columns); the measure rides along as a property.
func TestHexagonTiles(t *testing.T) {
	ts := newCubeServer(t)
	type pt struct{ lon, lat float64 }
	pts := []pt{{-97.74, 30.27}, {-97.75, 30.28}, {-97.7401, 30.2701}, {-74.00, 40.71}, {-122.42, 37.77}}
	for i, p := range pts {
		body := fmt.Sprintf(`{"name":"H%d","kind":"customer","lat":%g,"lon":%g,"segment":"SMB","revenue":%d.5}`, i, p.lat, p.lon, 10*i)
		if resp, b := ts.do(t, "POST", "/api/v1/customers", body); resp.StatusCode != 201 {
			t.Fatalf("create: %d %s", resp.StatusCode, b)
		}
	}
	for _, z := range []int{1, 4, 7, 10, 13, 15, 18} {
		tilesSeen := map[string]bool{}
		for _, p := range pts {
			tilesSeen[strings.TrimPrefix(tilePath(z, p.lon, p.lat), "/tiles/customers/")] = true
		}
		hexCount := map[string]float64{}
		for tp := range tilesSeen {
			resp, body := ts.do(t, "GET", "/tiles/hexagons/"+tp+"?measure=revenue&kind=customer", "")
			if resp.StatusCode != 200 {
				t.Fatalf("z%d %s: %d %s", z, tp, resp.StatusCode, body)
			}
			layers, err := mvt.Unmarshal([]byte(body))
			if err != nil || len(layers) != 1 || layers[0].Name != "hexagons" {
				t.Fatalf("z%d %s: %v %v", z, tp, err, layers)
			}
			for _, f := range layers[0].Features {
				if _, ok := f.Geometry.(orb.Polygon); !ok {
					t.Fatalf("z%d: a %T", z, f.Geometry)
				}
				if _, ok := f.Properties["revenue"]; !ok {
					t.Fatalf("z%d: no revenue property: %v", z, f.Properties)
				}
				hexCount[f.Properties["h3"].(string)] = f.Properties["count"].(float64)
			}
		}
		total := 0.0
		for _, n := range hexCount {
			total += n
		}
		if total != float64(len(pts)) {
			t.Fatalf("z%d: hexagons hold %v records, want %d (%v)", z, total, len(pts), hexCount)
		}
	}
	if resp, body := ts.do(t, "GET", "/tiles/hexagons/3/1/2.mvt?measure=nope", ""); resp.StatusCode != 400 || !strings.Contains(body, "unknown measure") {
		t.Fatalf("bad measure: %d %s", resp.StatusCode, body)
	}
}
