package web

import (
	"net/http"
	"strconv"

	"github.com/gcrm/gcrm/crm"
)

// personalData answers GET /api/v1/customers/{id}/personal-data (admins): everything gcrm
// holds about one customer as JSON, for a subject access request. Audited.
func (s *Server) personalData(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		writeError(w, r, s.Log, err)
		return
	}
	pd, err := s.Customers.PersonalData(r.Context(), id)
	if err != nil {
		writeError(w, r, s.Log, err)
		return
	}
	e := auditEntry(r, crm.AuditPrivacyView)
	e.ObjectType, e.ObjectID = "customer", strconv.FormatInt(id, 10)
	s.audit(r, e)
	w.Header().Set("Content-Disposition", `attachment; filename="customer-`+strconv.FormatInt(id, 10)+`.json"`)
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, pd)
}

// eraseCustomer answers POST /api/v1/customers/{id}/erase (admins): the record's personal
// fields are removed, what aggregates need is kept, and a tombstone goes to the audit log
// in the same transaction.
func (s *Server) eraseCustomer(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		writeError(w, r, s.Log, err)
		return
	}
	c, err := s.Customers.Erase(r.Context(), id, auditEntry(r, crm.AuditPrivacyErase))
	if err != nil {
		writeError(w, r, s.Log, err)
		return
	}
	s.changed(c)
	w.Header().Set("ETag", versionETag(c.Version))
	writeJSON(w, http.StatusOK, toFeature(c))
}
