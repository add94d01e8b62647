package web_test

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gcrm/gcrm/crm"
	"github.com/gcrm/gcrm/geo/postgis/pgtest"
	"github.com/gcrm/gcrm/olap"
	"github.com/gcrm/gcrm/web"
)

// postCSV uploads file as the multipart field "file", streaming it through a pipe.
func postCSV(t *testing.T, url, token, file string) (*http.Response, string) {
	t.Helper()
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		fw, err := mw.CreateFormFile("file", "customers.csv")
		if err == nil {
			_, err = io.Copy(fw, strings.NewReader(file))
		}
		if err == nil {
			err = mw.Close()
		}
		pw.CloseWithError(err)
	}()
	req, _ := http.NewRequest(http.MethodPost, url, pr)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestImports_EndToEnd(t *testing.T) {
	ctx := context.Background()
	db := pgtest.New(t)
	srv := &web.Server{DB: db, Customers: crm.NewStore(db), Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	engine := olap.New()
	if err := engine.Load(ctx, srv.Customers); err != nil {
		t.Fatal(err)
	}
	srv.Index = engine
	srv.Mounts = append(srv.Mounts, srv.ImportRoutes)
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	admin := userToken(t, srv, "admin@imports.test", crm.RoleAdmin)
	get := func(path, token string) (*http.Response, string) {
		req, _ := http.NewRequest(http.MethodGet, ts.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}

	var file strings.Builder
	file.WriteString("external_id,name,lat,lon,kind\n")
	for i := 0; i < 150; i++ {
		fmt.Fprintf(&file, "ok-%d,Good %d,30.%d,-97.%d,lead\n", i, i, i, i)
		fmt.Fprintf(&file, "bad-%d,Bad %d,130,-97,lead\n", i, i) // rows 3, 5, 7, …
	}
	resp, body := postCSV(t, ts.URL+"/api/v1/imports", admin, file.String())
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	var out struct {
		ID         int64        `json:"id"`
		Status     string       `json:"status"`
		Rows       int64        `json:"rows"`
		Inserted   int64        `json:"inserted"`
		Updated    int64        `json:"updated"`
		Rejected   int64        `json:"rejected"`
		Rejects    []crm.Reject `json:"rejects"`
		RejectsURL string       `json:"rejects_url"`
	}
	if err := json.Unmarshal([]byte(body), &out); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	if out.Status != "done" || out.Rows != 300 || out.Inserted != 150 || out.Rejected != 150 || len(out.Rejects) != 100 {
		t.Fatalf("answer %s", body)
	}
	if r := out.Rejects[0]; r.Row != 3 || !strings.Contains(r.Reason, "row 3: lat 130 is outside -90..90") {
		t.Fatalf("first reject %+v", r)
	}
	if want := fmt.Sprintf("/api/v1/imports/%d/rejects.csv", out.ID); out.RejectsURL != want || resp.Header.Get("Location") != fmt.Sprintf("/api/v1/imports/%d", out.ID) {
		t.Fatalf("rejects_url %q, Location %q", out.RejectsURL, resp.Header.Get("Location"))
	}
	// The engine has the imported points by the time the answer arrives.
	if n := engine.Snapshot().Len(); n != 150 {
		t.Fatalf("engine holds %d points, want 150", n)
	}

	// The whole rejects file, all 150 rows.
	resp, body = get(out.RejectsURL, admin)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") {
		t.Fatalf("rejects: %d %s", resp.StatusCode, body)
	}
	recs, err := csv.NewReader(strings.NewReader(body)).ReadAll()
	if err != nil || len(recs) != 151 || recs[0][5] != "_row" || recs[150][5] != "301" {
		t.Fatalf("rejects CSV (%v): %d records, %q", err, len(recs), body[:min(len(body), 300)])
	}
	resp, body = get(fmt.Sprintf("/api/v1/imports/%d", out.ID), admin)
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `"rejected":150`) {
		t.Fatalf("run: %d %s", resp.StatusCode, body)
	}

	t.Run("Reimport", func(t *testing.T) {
		resp, body := postCSV(t, ts.URL+"/api/v1/imports", admin, "external_id,name,lat,lon\nok-1,Renamed,30.1,-97.1\n")
		if resp.StatusCode != http.StatusCreated || !strings.Contains(body, `"updated":1`) || strings.Contains(body, "rejects_url") {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
	})
	t.Run("NoFileField", func(t *testing.T) {
		pr, pw := io.Pipe()
		mw := multipart.NewWriter(pw)
		go func() { mw.WriteField("other", "x"); pw.CloseWithError(mw.Close()) }()
		req, _ := http.NewRequest(http.MethodPost, ts.URL+"/api/v1/imports", pr)
		req.Header.Set("Content-Type", mw.FormDataContentType())
		req.Header.Set("Authorization", "Bearer "+admin)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Fatalf("status %d, want 400", resp.StatusCode)
		}
	})
	t.Run("BadHeader", func(t *testing.T) {
		resp, body := postCSV(t, ts.URL+"/api/v1/imports", admin, "lat,lon\n1,2\n")
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "no name column") {
			t.Fatalf("%d %s", resp.StatusCode, body)
		}
	})
	t.Run("RepForbidden", func(t *testing.T) {
		rep := userToken(t, srv, "rep@imports.test", crm.RoleRep)
		resp, _ := postCSV(t, ts.URL+"/api/v1/imports", rep, "name,lat,lon\nx,1,2\n")
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("status %d, want 403", resp.StatusCode)
		}
	})
	t.Run("NotFound", func(t *testing.T) {
		if resp, _ := get("/api/v1/imports/999999", admin); resp.StatusCode != http.StatusNotFound {
			t.Fatalf("status %d", resp.StatusCode)
		}
	})
}
