package web_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"testing"

	"github.com/gcrm/gcrm/crm"
	"github.com/gcrm/gcrm/olap"
)

// newReferenceServer serves the region routes (us-atlas states imported) and the reference
// uploads; requests go as a planner unless a test changes it.
func newReferenceServer(t *testing.T) (*testServer, *olap.FootfallCache) {
	ts := newRegionServer(t)
	ff := &olap.FootfallCache{DB: ts.srv.DB, Options: olap.FootfallOptions{Res: 10}}
	ts.srv.Mounts = append(ts.srv.Mounts, ts.srv.ReferenceImportRoutes(ff), ts.srv.FootfallRoutes(ff))
	ts.Config.Handler = ts.srv.Handler()
	return ts.as(userToken(t, ts.srv, "planner@test.gcrm", crm.RolePlanner)), ff
}

// upload posts body (raw, or multipart when parts are given in order name, content, …).
func (ts *testServer) upload(t *testing.T, path string, body string, parts ...string) (int, string) {
	t.Helper()
	var b bytes.Buffer
	ctype := "text/csv"
	if len(parts) > 0 {
		mw := multipart.NewWriter(&b)
		for i := 0; i+1 < len(parts); i += 2 {
			fw, _ := mw.CreateFormFile(parts[i], parts[i]+".csv")
			io.WriteString(fw, parts[i+1])
		}
		mw.Close()
		ctype = mw.FormDataContentType()
	} else {
		b.WriteString(body)
	}
	req, _ := http.NewRequest(http.MethodPost, ts.URL+path, &b)
	req.Header.Set("Content-Type", ctype)
	req.Header.Set("Authorization", "Bearer "+ts.auth)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(out)
}

type rejectJSON struct {
	Row    int64  `json:"row"`
	Reason string `json:"reason"`
}

// Region attributes from the Import dialog: good rows are merged, the bad ones come back
// with their row and reason, and the cube's population reader sees the new values.
func TestReferenceImport_RegionAttributes(t *testing.T) {
	ts, _ := newReferenceServer(t)
	csv := "fips,popestimate2019,note\n06,39512223,big\n48,28995881,x\n99,5,unknown\n32,lots,bad\n"
	status, body := ts.upload(t, "/api/v1/regions/state/attributes?code_col=fips&columns=popestimate2019=population", csv)
	if status != 200 {
		t.Fatalf("status %d: %s", status, body)
	}
	var res struct {
		Level    string       `json:"level"`
		Updated  int          `json:"updated"`
		Rejected int          `json:"rejected"`
		Columns  []string     `json:"columns"`
		Rejects  []rejectJSON `json:"rejects"`
	}
	if err := json.Unmarshal([]byte(body), &res); err != nil {
		t.Fatal(err)
	}
	if res.Level != "state" || res.Updated != 2 || res.Rejected != 2 || len(res.Rejects) != 2 ||
		res.Rejects[0].Row != 4 || res.Rejects[1].Row != 5 || len(res.Columns) != 1 || res.Columns[0] != "population" {
		t.Fatalf("answer %s", body)
	}
	pops, err := olap.LoadRegionPopulation(context.Background(), ts.srv.DB, "state")
	if err != nil || pops["06"] != 39512223 || pops["48"] != 28995881 || len(pops) != 2 {
		t.Fatalf("populations %v, %v", pops, err)
	}
	for _, c := range []struct{ path, want string }{
		{"/api/v1/regions/state/attributes", "code_col"},
		{"/api/v1/regions/nosuch/attributes?code_col=fips", "nosuch"},
	} {
		if status, body := ts.upload(t, c.path, csv); status != 400 && status != 404 || !bytes.Contains([]byte(body), []byte(c.want)) {
			t.Errorf("%s: status %d: %s", c.path, status, body)
		}
	}
	rep := ts.as(userToken(t, ts.srv, "rep9@test.gcrm", crm.RoleRep))
	if status, _ := rep.upload(t, "/api/v1/regions/state/attributes?code_col=fips", csv); status != 403 {
		t.Errorf("a rep merged attributes: status %d", status)
	}
}

// Footfall from the Import dialog: sensors first, then counts; missing values stay missing,
// bad rows come back, and the footfall API answers from the new data at once.
func TestReferenceImport_Footfall(t *testing.T) {
	ts, _ := newReferenceServer(t)
	sensors := "sensor_id,sensor_description,latitude,longitude\n1,Town Hall,-37.8136,144.9631\n2,Nowhere,abc,144.96\n"
	counts := "sensor_id,timestamp,count\n1,2019-01-07 08:00,100\n1,2019-01-14 08:00,-1\n1,not a date,5\n"
	// Before: no footfall yet (and the cache remembers that).
	status, body := ts.do(t, "GET", "/api/v1/footfall?how=all", "")
	if status.StatusCode != 200 {
		t.Fatalf("before: status %d: %s", status.StatusCode, body)
	}
	code, body := ts.upload(t, "/api/v1/footfall?tz=UTC", "", "sensors", sensors, "file", counts)
	if code != 200 {
		t.Fatalf("status %d: %s", code, body)
	}
	var res struct {
		SensorsImported int          `json:"sensors_imported"`
		SensorRejects   []rejectJSON `json:"sensor_rejects"`
		Rows            int64        `json:"rows"`
		Counts          int64        `json:"counts"`
		Missing         int64        `json:"missing"`
		Rejected        int64        `json:"rejected"`
		Rejects         []rejectJSON `json:"rejects"`
	}
	if err := json.Unmarshal([]byte(body), &res); err != nil {
		t.Fatal(err)
	}
	if res.SensorsImported != 1 || len(res.SensorRejects) != 1 || res.SensorRejects[0].Row != 3 ||
		res.Rows != 3 || res.Counts != 2 || res.Missing != 1 || res.Rejected != 1 || len(res.Rejects) != 1 || res.Rejects[0].Row != 4 {
		t.Fatalf("answer %s", body)
	}
	resp, body := ts.do(t, "GET", "/api/v1/footfall?how=all&estimates=false", "")
	var got struct {
		Values []olap.FootfallValue `json:"values"`
	}
	if err := json.Unmarshal([]byte(body), &got); err != nil || resp.StatusCode != 200 || len(got.Values) != 1 || got.Values[0].Mean != 100 {
		t.Fatalf("footfall after the upload (%d): %s", resp.StatusCode, body)
	}
	for _, c := range []struct {
		path  string
		parts []string
	}{
		{"/api/v1/footfall?tz=Mars/Base", []string{"file", counts}},
		{"/api/v1/footfall?format=diagonal", []string{"file", counts}},
		{"/api/v1/footfall", []string{"sensors", sensors}}, // no counts
	} {
		if code, body := ts.upload(t, c.path, "", c.parts...); code != 400 {
			t.Errorf("%s: status %d: %s", c.path, code, body)
		}
	}
}
