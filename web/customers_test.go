package web_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

type featureJSON struct {
	ID       int64 `json:"id"`
	Geometry *struct {
		Coordinates [2]float64 `json:"coordinates"`
	} `json:"geometry"`
	Properties struct {
		Name    string `json:"name"`
		Status  string `json:"status"`
		Version int    `json:"version"`
		Geocode struct {
			Precision string `json:"precision"`
		} `json:"geocode"`
	} `json:"properties"`
}

func TestCustomersAPI(t *testing.T) {
	ts := newTestServer(t)
	resp, body := ts.do(t, "POST", "/api/v1/customers", `{"name":"Acme","kind":"lead","lat":30.27,"lon":-97.74,"segment":"SMB"}`)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create: %d %s", resp.StatusCode, body)
	}
	var f featureJSON
	json.Unmarshal([]byte(body), &f)
	if f.ID == 0 || f.Geometry == nil || f.Geometry.Coordinates != [2]float64{-97.74, 30.27} || f.Properties.Geocode.Precision != "given" {
		t.Fatalf("created feature %s", body)
	}
	path := "/api/v1/customers/" + itoa(f.ID)

	t.Run("Get", func(t *testing.T) {
		resp, body := ts.do(t, "GET", path, "")
		if resp.StatusCode != 200 || resp.Header.Get("ETag") != `"v1"` || !strings.Contains(body, `"Acme"`) {
			t.Fatalf("%d %s %s", resp.StatusCode, resp.Header.Get("ETag"), body)
		}
	})
	t.Run("UpdateNeedsVersion", func(t *testing.T) {
		resp, body := ts.do(t, "PATCH", path, `{"status":"won"}`)
		if resp.StatusCode != 400 || !strings.Contains(body, "version") {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
	})
	t.Run("Update", func(t *testing.T) {
		resp, body := ts.do(t, "PATCH", path, `{"status":"won"}`, "If-Match", `"v1"`)
		json.Unmarshal([]byte(body), &f)
		if resp.StatusCode != 200 || f.Properties.Status != "won" || f.Properties.Version != 2 || f.Properties.Name != "Acme" {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
	})
	t.Run("UpdateStale", func(t *testing.T) {
		resp, body := ts.do(t, "PATCH", path, `{"version":1,"status":"lost"}`)
		if resp.StatusCode != 409 || !strings.Contains(resp.Header.Get("Content-Type"), "problem+json") {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
	})
	t.Run("MovePinIsManual", func(t *testing.T) {
		resp, body := ts.do(t, "PATCH", path, `{"version":2,"lat":30.5,"lon":-97.5}`)
		json.Unmarshal([]byte(body), &f)
		if resp.StatusCode != 200 || f.Properties.Geocode.Precision != "manual" || f.Geometry.Coordinates != [2]float64{-97.5, 30.5} {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
	})
	t.Run("List", func(t *testing.T) {
		ts.do(t, "POST", "/api/v1/customers", `{"name":"Faraway","lat":60,"lon":10}`)
		resp, body := ts.do(t, "GET", "/api/v1/customers?bbox=-98,30,-97,31&kind=lead", "")
		var fc struct {
			Type     string        `json:"type"`
			Features []featureJSON `json:"features"`
		}
		json.Unmarshal([]byte(body), &fc)
		if resp.StatusCode != 200 || fc.Type != "FeatureCollection" || len(fc.Features) != 1 || fc.Features[0].Properties.Name != "Acme" {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
	})
	t.Run("Delete", func(t *testing.T) {
		if resp, _ := ts.do(t, "DELETE", path, ""); resp.StatusCode != 204 {
			t.Fatalf("delete: %d", resp.StatusCode)
		}
		if resp, _ := ts.do(t, "GET", path, ""); resp.StatusCode != 404 {
			t.Fatalf("get after delete: %d", resp.StatusCode)
		}
	})
}

func TestCustomersAPI_BadInput(t *testing.T) {
	ts := newTestServer(t)
	for _, tc := range []struct {
		method, path, body, want string
	}{
		{"POST", "/api/v1/customers", `{"name":"x","lat":95,"lon":0}`, "outside"},
		{"POST", "/api/v1/customers", `{"name":"x","lat":5}`, "both lat and lon"},
		{"POST", "/api/v1/customers", `{"name":"x","kind":"alien"}`, "kind"},
		{"POST", "/api/v1/customers", `{"name":`, "not valid JSON"},
		{"POST", "/api/v1/customers", `[1]`, "JSON object"},
		{"GET", "/api/v1/customers/abc", ``, "not a record id"},
		{"GET", "/api/v1/customers?bbox=1,2,3", ``, "minLon,minLat,maxLon,maxLat"},
		{"GET", "/api/v1/customers?limit=0", ``, "limit"},
		{"GET", "/api/v1/customers?cursor=zz", ``, "cursor"},
	} {
		resp, body := ts.do(t, tc.method, tc.path, tc.body)
		if resp.StatusCode != 400 || !strings.Contains(body, tc.want) {
			t.Errorf("%s %s %s: %d %s (want 400 mentioning %q)", tc.method, tc.path, tc.body, resp.StatusCode, body, tc.want)
		}
	}
	if resp, _ := ts.do(t, "GET", "/api/v1/customers/12345", ""); resp.StatusCode != 404 {
		t.Errorf("missing record: %d", resp.StatusCode)
	}
}

func TestHealth(t *testing.T) {
	ts := newTestServer(t)
	for _, p := range []string{"/healthz", "/readyz", "/metrics"} {
		if resp, body := ts.do(t, "GET", p, ""); resp.StatusCode != 200 {
			t.Errorf("%s: %d %s", p, resp.StatusCode, body)
		}
	}
	_, metrics := ts.do(t, "GET", "/metrics", "")
	if !strings.Contains(metrics, "gcrm_http_requests_total") {
		t.Errorf("metrics lack request counts")
	}
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }
