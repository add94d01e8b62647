package web

import (
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/gcrm/gcrm/crm"
	"github.com/gcrm/gcrm/geo"
)

// Activities on a record (routes in customerRoutes):
//
//	POST /api/v1/customers/{id}/activities  {"kind": "visit|call|email|meeting", "note": "…", "occurred_at": "2025-03-01T10:00:00Z"}
//	GET  /api/v1/customers/{id}/activities?limit=100
//
// Logging needs a role that edits records, on a record in the caller's scope (a rep: their
// own records; others answer 404 like a missing one); the activity's owner is the caller.
// occurred_at defaults to now. The record's activity count (and the cube's activities
// measure) changes at once. Listing: newest first.

// activityInput is the body of POST …/activities.
type activityInput struct {
	Kind       string     `json:"kind"`
	Note       string     `json:"note"`
	OccurredAt *time.Time `json:"occurred_at"`
}

func (s *Server) logActivity(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		writeError(w, r, s.Log, err)
		return
	}
	a, err := parseActivity(r.Body)
	if err != nil {
		writeError(w, r, s.Log, err)
		return
	}
	a.CustomerID = id
	if u := userOf(r); u != nil {
		a.Owner = u.Email
	}
	c, err := s.Customers.LogActivity(r.Context(), scopeOf(r), a)
	if err != nil {
		writeError(w, r, s.Log, err)
		return
	}
	s.changed(c)
	writeJSON(w, http.StatusCreated, map[string]any{"activity": a, "activities": c.Activities})
}

// parseActivity reads the body of POST …/activities (EINVALID naming what is wrong). The
// store validates kind, note and time.
func parseActivity(body io.Reader) (*crm.Activity, error) {
	var in activityInput
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return nil, geo.Errorf(geo.EINVALID, "the body must be JSON {\"kind\": \"visit|call|email|meeting\", \"note\": \"…\", \"occurred_at\": \"RFC 3339 time\"}: %v", err)
	}
	a := &crm.Activity{Kind: in.Kind, Note: in.Note}
	if in.OccurredAt != nil {
		a.OccurredAt = *in.OccurredAt
	}
	return a, nil
}

func (s *Server) listActivities(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		writeError(w, r, s.Log, err)
		return
	}
	limit := 100
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 1000 {
			writeError(w, r, s.Log, geo.Errorf(geo.EINVALID, "limit %q is not a whole number within 1..1000", clipParam(v)))
			return
		}
		limit = n
	}
	list, err := s.Customers.Activities(r.Context(), scopeOf(r), id, limit)
	if err != nil {
		writeError(w, r, s.Log, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"activities": list})
}
