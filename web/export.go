package web

import (
	"encoding/csv"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gcrm/gcrm/crm"
)

// exportColumns are the columns of GET /api/v1/customers/export.csv.
var exportColumns = []string{"id", "external_id", "kind", "name", "street", "city", "region", "postcode", "country",
	"lon", "lat", "segment", "status", "owner", "revenue", "email", "phone", "consent_email", "created_at", "updated_at"}

// exportFilter reads the same query parameters as the customer list (kind, status,
// segment, q, bbox), within the caller's scope.
func exportFilter(r *http.Request) (crm.Filter, error) {
	q := r.URL.Query()
	f := crm.Filter{
		Scope:    scopeOf(r),
		Kinds:    splitList(q.Get("kind")),
		Statuses: splitList(q.Get("status")),
		Segments: splitList(q.Get("segment")),
		Text:     q.Get("q"),
		Limit:    1000,
	}
	var err error
	f.Bound, err = parseBBox(q.Get("bbox"))
	return f, err
}

// exportCustomers streams the caller's customers matching the list filters as CSV. A
// marketer gets contact details (e-mail, phone, street) only of records with marketing
// consent. Every export is audited with its filter and row count.
func (s *Server) exportCustomers(w http.ResponseWriter, r *http.Request) {
	f, err := exportFilter(r)
	if err != nil {
		writeError(w, r, s.Log, err)
		return
	}
	consentOnly := consentOnly(r)
	rows, redacted := 0, 0
	defer func() {
		e := auditEntry(r, crm.AuditExport)
		e.ObjectType = "customer"
		e.Details["format"] = "csv"
		e.Details["filter"] = r.URL.Query()
		e.Details["rows"] = rows
		e.Details["contacts_redacted"] = redacted
		e.Details["scope"] = f.Scope.Key()
		s.audit(r, e)
	}()
	list, next, err := s.Customers.Find(r.Context(), f)
	if err != nil {
		writeError(w, r, s.Log, err)
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="customers-`+time.Now().UTC().Format("20060102-150405")+`.csv"`)
	w.Header().Set("Cache-Control", "no-store")
	cw := csv.NewWriter(w)
	_ = cw.Write(exportColumns)
	rec := make([]string, len(exportColumns))
	for {
		for _, c := range list {
			if consentOnly && !c.ConsentEmail {
				c.RedactContact()
				redacted++
			}
			writeExportRow(cw, rec, c)
			rows++
		}
		if next == "" || r.Context().Err() != nil {
			break
		}
		f.Cursor = next
		if list, next, err = s.Customers.Find(r.Context(), f); err != nil {
			s.Log.Error("export stopped", "err", err)
			break // the header is sent: a short file is all we can do
		}
	}
	cw.Flush()
}

func writeExportRow(cw *csv.Writer, rec []string, c *crm.Customer) {
	lon, lat := "", ""
	if c.Location != nil {
		lon, lat = strconv.FormatFloat(c.Location[0], 'f', -1, 64), strconv.FormatFloat(c.Location[1], 'f', -1, 64)
	}
	rec = rec[:0]
	rec = append(rec, strconv.FormatInt(c.ID, 10), cell(c.ExternalID), c.Kind, cell(c.Name), cell(c.Street), cell(c.City),
		cell(c.Region), cell(c.Postcode), cell(c.Country), lon, lat, cell(c.Segment), cell(c.Status), cell(c.Owner),
		strconv.FormatFloat(c.Revenue, 'f', 2, 64), cell(c.Email), cell(c.Phone), strconv.FormatBool(c.ConsentEmail),
		c.CreatedAt.UTC().Format(time.RFC3339), c.UpdatedAt.UTC().Format(time.RFC3339))
	_ = cw.Write(rec)
}

// cell defuses text a spreadsheet would run as a formula (CSV injection): a leading
// =, +, -, @, tab or CR gets a leading apostrophe.
func cell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// consentOnly reports whether the caller may take contact details in bulk only of records
// with marketing consent (marketers).
func consentOnly(r *http.Request) bool {
	u := userOf(r)
	return u != nil && u.Role == crm.RoleMarketer
}

// redactBulk removes contact details a marketer may not take in bulk from a page of the
// customer list (a single record's page still shows them: marketers see every record).
func redactBulk(r *http.Request, list []*crm.Customer) {
	if !consentOnly(r) {
		return
	}
	for _, c := range list {
		if !c.ConsentEmail {
			c.RedactContact()
		}
	}
}
