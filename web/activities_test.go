package web_test

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/gcrm/gcrm/crm"
)

func TestActivitiesAPI(t *testing.T) {
	ts := newCubeServer(t)
	ids := map[string]string{}
	for _, c := range []string{
		`{"name":"Own","kind":"customer","lat":30.27,"lon":-97.74,"owner":"rep1@test.gcrm"}`,
		`{"name":"Other","kind":"lead","lat":30.28,"lon":-97.75,"owner":"rep2@test.gcrm"}`,
	} {
		resp, body := ts.do(t, "POST", "/api/v1/customers", c)
		if resp.StatusCode != 201 {
			t.Fatalf("create: %d %s", resp.StatusCode, body)
		}
		var f struct {
			ID         int64 `json:"id"`
			Properties struct {
				Name string `json:"name"`
			} `json:"properties"`
		}
		json.Unmarshal([]byte(body), &f)
		ids[f.Properties.Name] = strconv.FormatInt(f.ID, 10)
	}
	activities := func() string {
		t.Helper()
		resp, body := ts.do(t, "GET", "/api/v1/cube?measures=records,activities&by=kind", "")
		if resp.StatusCode != 200 {
			t.Fatalf("cube: %d %s", resp.StatusCode, body)
		}
		var a cubeAnswer
		json.Unmarshal([]byte(body), &a)
		b, _ := json.Marshal(a.Rows)
		return string(b)
	}
	if got := activities(); got != `[["customer",1,0],["lead",1,0]]` {
		t.Fatalf("before: %s", got)
	}
	// A rep logs a visit on their own record: the cube counts it at once.
	admin := ts.auth
	ts.auth = userToken(t, ts.srv, "rep1@test.gcrm", crm.RoleRep)
	resp, body := ts.do(t, "POST", "/api/v1/customers/"+ids["Own"]+"/activities", `{"kind":"visit","note":"met the owner","occurred_at":"2025-03-04T10:00:00Z"}`)
	if resp.StatusCode != 201 || !strings.Contains(body, `"activities":1`) || !strings.Contains(body, `"owner":"rep1@test.gcrm"`) {
		t.Fatalf("log: %d %s", resp.StatusCode, body)
	}
	if resp, body := ts.do(t, "POST", "/api/v1/customers/"+ids["Own"]+"/activities", `{"kind":"call"}`); resp.StatusCode != 201 || !strings.Contains(body, `"activities":2`) {
		t.Fatalf("second: %d %s", resp.StatusCode, body)
	}
	if got := activities(); got != `[["customer",1,2]]` { // the rep's cube: their record only
		t.Fatalf("rep's cube after: %s", got)
	}
	// Not on a record they may not see (404, as a missing one); bad input names the field.
	for _, c := range []struct {
		path, body string
		status     int
		says       string
	}{
		{ids["Other"], `{"kind":"visit"}`, 404, "not found"},
		{"999999", `{"kind":"visit"}`, 404, "not found"},
		{ids["Own"], `{"kind":"fax"}`, 400, "kind"},
		{ids["Own"], `{"kind":"call","note":"` + strings.Repeat("x", 4001) + `"}`, 400, "note"},
		{ids["Own"], `{"kind":"call","when":"now"}`, 400, "when"},
		{ids["Own"], `{"kind":"call","occurred_at":"yesterday"}`, 400, "occurred_at"},
		{ids["Own"], `{"kind":"call","occurred_at":"1200-01-01T00:00:00Z"}`, 400, "occurred_at"},
		{ids["Own"], `not json`, 400, "JSON"},
	} {
		resp, body := ts.do(t, "POST", "/api/v1/customers/"+c.path+"/activities", c.body)
		if resp.StatusCode != c.status || !strings.Contains(body, c.says) {
			t.Errorf("%s %s: %d %s", c.path, clip(c.body), resp.StatusCode, body)
		}
	}
	// The list, newest first; the record says how many it has.
	resp, body = ts.do(t, "GET", "/api/v1/customers/"+ids["Own"]+"/activities", "")
	var list struct {
		Activities []crm.Activity `json:"activities"`
	}
	if err := json.Unmarshal([]byte(body), &list); err != nil || resp.StatusCode != 200 || len(list.Activities) != 2 ||
		list.Activities[0].Kind != "call" || list.Activities[1].Note != "met the owner" {
		t.Fatalf("list: %d %s", resp.StatusCode, body)
	}
	if resp, body := ts.do(t, "GET", "/api/v1/customers/"+ids["Own"], ""); !strings.Contains(body, `"activities":2`) {
		t.Fatalf("record: %d %s", resp.StatusCode, body)
	}
	if resp, _ := ts.do(t, "GET", "/api/v1/customers/"+ids["Other"]+"/activities", ""); resp.StatusCode != 404 {
		t.Fatalf("another rep's list: %d", resp.StatusCode)
	}
	// A marketer may read but not log.
	ts.auth = userToken(t, ts.srv, "m@test.gcrm", crm.RoleMarketer)
	if resp, _ := ts.do(t, "POST", "/api/v1/customers/"+ids["Own"]+"/activities", `{"kind":"visit"}`); resp.StatusCode != 403 {
		t.Fatalf("marketer: %d", resp.StatusCode)
	}
	ts.auth = admin
	if got := activities(); got != `[["customer",1,2],["lead",1,0]]` {
		t.Fatalf("admin's cube after: %s", got)
	}
	// Privacy: the personal data holds the activities; erasing clears their notes.
	if resp, body := ts.do(t, "GET", "/api/v1/customers/"+ids["Own"]+"/personal-data", ""); resp.StatusCode != 200 || !strings.Contains(body, "met the owner") {
		t.Fatalf("personal data: %d %s", resp.StatusCode, body)
	}
	if resp, body := ts.do(t, "POST", "/api/v1/customers/"+ids["Own"]+"/erase", ""); resp.StatusCode != 200 {
		t.Fatalf("erase: %d %s", resp.StatusCode, body)
	}
	if _, body := ts.do(t, "GET", "/api/v1/customers/"+ids["Own"]+"/activities", ""); strings.Contains(body, "met the owner") || !strings.Contains(body, `"kind":"visit"`) {
		t.Fatalf("after erase: %s", body)
	}
}

func clip(s string) string {
	if len(s) > 50 {
		return s[:50] + "…"
	}
	return s
}
