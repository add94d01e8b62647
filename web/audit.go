package web

import (
	"net/http"
	"strconv"
	"time"

	"github.com/gcrm/gcrm/crm"
	"github.com/gcrm/gcrm/geo"
)

// listAudit answers GET /api/v1/audit (admins): newest first, filtered by actor, action
// (exact or a prefix ending in "." or "*"), object_type, object_id, since and until
// (RFC 3339), paged with limit and cursor.
func (s *Server) listAudit(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	f := crm.AuditFilter{
		Actor: q.Get("actor"), Action: q.Get("action"), ObjectType: q.Get("object_type"),
		ObjectID: q.Get("object_id"), Cursor: q.Get("cursor"),
	}
	for _, p := range []struct {
		name string
		t    *time.Time
	}{{"since", &f.Since}, {"until", &f.Until}} {
		if v := q.Get(p.name); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				writeError(w, r, s.Log, geo.Errorf(geo.EINVALID, "%s %q is not an RFC 3339 time such as 2026-01-31T00:00:00Z", p.name, v))
				return
			}
			*p.t = t
		}
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			writeError(w, r, s.Log, geo.Errorf(geo.EINVALID, "limit %q must be a whole number from 1 to 1000", v))
			return
		}
		f.Limit = n
	}
	list, next, err := s.Audit.Find(r.Context(), f)
	if err != nil {
		writeError(w, r, s.Log, err)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Entries []*crm.AuditEntry `json:"entries"`
		Next    string            `json:"next_cursor,omitempty"`
	}{list, next})
}
