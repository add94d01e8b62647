package web_test

import (
	"context"
	"io"
	"log/slog"
	"math"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gcrm/gcrm/crm"
	"github.com/gcrm/gcrm/geo"
	"github.com/gcrm/gcrm/geo/postgis/pgtest"
	"github.com/gcrm/gcrm/olap"
	"github.com/gcrm/gcrm/tiles"
	"github.com/gcrm/gcrm/web"
	"github.com/go-chi/chi/v5"
	"github.com/paulmach/orb"
	"github.com/paulmach/orb/encoding/mvt"
)

// newFootfallServer is a cube server with two Melbourne sensors: a at (-37.8136,
// 144.9631) with counts 100 and 300 (mean 200 an hour: 4,800 a day), b ~200 m away with
// 50 (and one missing hour).
func newFootfallServer(t *testing.T) *testServer {
	t.Helper()
	ctx := context.Background()
	db := pgtest.New(t)
	in := "sensor_id,lat,lon,timestamp,count\n" +
		"a,-37.8136,144.9631,2019-01-07 08:00,100\n" +
		"a,-37.8136,144.9631,2019-01-14 08:00,300\n" +
		"b,-37.8150,144.9650,2019-01-07 08:00,-1\n" +
		"b,-37.8150,144.9650,2019-01-14 08:00,50\n"
	if _, err := (&crm.FootfallStore{DB: db}).ImportCounts(ctx, strings.NewReader(in), crm.FootfallFormat{}, nil); err != nil {
		t.Fatal(err)
	}
	e := olap.New()
	cube := olap.NewCube()
	ff := &olap.FootfallCache{DB: db, Options: olap.FootfallOptions{Res: 10}, TTL: time.Millisecond} // reloaded at once
	cube.SetFootfall(ff)
	e.Observer = cube
	srv := &web.Server{DB: db, Customers: crm.NewStore(db), Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Index: e}
	srv.Mounts = []func(chi.Router){srv.CubeRoutes(cube, e), srv.FootfallRoutes(ff), srv.FootfallTiles(tiles.NewFootfallTiles(ff)),
		srv.HexagonTiles(tiles.NewHexagons(cube, e))}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return &testServer{Server: ts, srv: srv, auth: userToken(t, srv, "admin@test.gcrm", crm.RoleAdmin)}
}

func TestCubeAPI_Footfall(t *testing.T) {
	ts := newFootfallServer(t)
	for _, c := range []string{
		`{"name":"A","kind":"customer","lat":-37.8136,"lon":144.9631,"segment":"SMB"}`,
		`{"name":"B","kind":"customer","lat":-37.8136,"lon":144.9631,"segment":"ENT"}`,
		`{"name":"C","kind":"lead","lat":-37.8136,"lon":144.9631}`,
	} {
		if resp, body := ts.do(t, "POST", "/api/v1/customers", c); resp.StatusCode != 201 {
			t.Fatalf("create: %d %s", resp.StatusCode, body)
		}
	}
	resp, body := ts.do(t, "GET", "/api/v1/cube/meta", "")
	if resp.StatusCode != 200 || !strings.Contains(body, `"footfall_cells":`) || strings.Contains(body, `"footfall_cells":0`) ||
		!strings.Contains(body, `"footfall_penetration"`) {
		t.Fatalf("meta: %d %s", resp.StatusCode, body)
	}
	get := func(path string) cubeAnswer { return ts.cube(t, path) }
	cell := strconv.FormatUint(uint64(geo.CellOf(orb.Point{144.9631, -37.8136}, geo.CellResolution).Parent(10)), 16)
	// Sensor a's cell: 4,800 a day, 2 customers → 0.4167 per 1,000.
	a := get("/api/v1/cube?measures=customers,footfall,footfall_penetration&by=h3:10&filter=h3:" + cell)
	if len(a.Rows) != 1 || a.Rows[0][0] != cell || a.Rows[0][1] != 2.0 || a.Rows[0][2] != 4800.0 || math.Abs(a.Rows[0][3].(float64)-2000.0/4800) > 1e-12 {
		t.Fatalf("sensor cell: %+v", a)
	}
	// A segment filter keeps the footfall; the SMB customer is 1 of it.
	a = get("/api/v1/cube?measures=customers,footfall,footfall_penetration&by=h3:10&filter=segment:SMB,h3:" + cell)
	if len(a.Rows) != 1 || a.Rows[0][2] != 4800.0 || math.Abs(a.Rows[0][3].(float64)-1000.0/4800) > 1e-12 {
		t.Fatalf("SMB: %+v", a)
	}
	// By h3:10 over everything: the estimated cells around the sensors get rows with 0
	// customers (white space), footfall between b's 1,200 and a's 4,800 a day.
	a = get("/api/v1/cube?measures=customers,footfall,footfall_penetration&by=h3:10")
	zero := 0
	for _, r := range a.Rows {
		if r[1] == 0.0 {
			zero++
			if f := r[2].(float64); f < 1200-1e-9 || f > 4800+1e-9 || r[3] != 0.0 {
				t.Fatalf("row %v", r)
			}
		}
	}
	if zero < 10 || len(a.Rows) != zero+1 {
		t.Fatalf("%d rows, %d without records", len(a.Rows), zero)
	}
	// Far from the sensors there is no footfall: null.
	a = get("/api/v1/cube?measures=customers,footfall,footfall_penetration&bbox=144,-38,144.5,-37.9")
	if len(a.Rows) != 0 {
		t.Fatalf("far away: %+v", a)
	}
	a = get("/api/v1/cube?measures=leads,footfall,footfall_penetration&by=kind&filter=kind:lead")
	if len(a.Rows) != 1 || a.Rows[0][2] == nil {
		t.Fatalf("by kind: %+v", a)
	}
	// A footfall import changes the answer and its ETag (not only the cube's writes do), for
	// the API and for hexagon tiles.
	path := "/api/v1/cube?measures=footfall&by=h3:10&filter=h3:" + cell
	resp, _ = ts.do(t, "GET", path, "")
	etag := resp.Header.Get("ETag")
	hex := "/tiles/hexagons/" + strings.TrimPrefix(tilePath(16, 144.9631, -37.8136), "/tiles/customers/") + "?measure=footfall"
	hresp, _ := ts.do(t, "GET", hex, "")
	hetag := hresp.Header.Get("ETag")
	more := "sensor_id,lat,lon,timestamp,count\na,-37.8136,144.9631,2019-01-21 08:00,800\n"
	if _, err := (&crm.FootfallStore{DB: ts.srv.DB}).ImportCounts(context.Background(), strings.NewReader(more), crm.FootfallFormat{}, nil); err != nil {
		t.Fatal(err)
	}
	resp, body = ts.do(t, "GET", path, "", "If-None-Match", etag)
	if resp.StatusCode != 200 || !strings.Contains(body, `,9600]`) { // (100+300+800)/3 × 24
		t.Fatalf("after an import: %d %s", resp.StatusCode, body)
	}
	hresp, hbody := ts.do(t, "GET", hex, "", "If-None-Match", hetag)
	if hresp.StatusCode != 200 {
		t.Fatalf("hexagon tile after an import: %d", hresp.StatusCode)
	}
	// The tile's hexagons carry the footfall (the answer's rows are made for footfall).
	layers, err := mvt.Unmarshal([]byte(hbody))
	if err != nil || len(layers) != 1 || len(layers[0].Features) == 0 {
		t.Fatalf("hexagon tile: %v %v", err, layers)
	}
	for _, f := range layers[0].Features {
		if _, ok := f.Properties["footfall"].(float64); !ok {
			t.Fatalf("a hexagon without footfall: %v", f.Properties)
		}
	}
	// CSV: the footfall columns are numbers, null is empty.
	resp, body = ts.do(t, "GET", "/api/v1/cube?measures=customers,footfall&by=h3:10&filter=h3:"+cell+"&format=csv", "")
	if resp.StatusCode != 200 || body != "h3:10,customers,footfall\n"+cell+",2,9600\n" {
		t.Fatalf("csv: %d %q", resp.StatusCode, body)
	}
}
