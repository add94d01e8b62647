package web

import (
	"bytes"
	"encoding/csv"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gcrm/gcrm/crm"
	"github.com/gcrm/gcrm/geo"
	"github.com/gcrm/gcrm/olap"
	"github.com/go-chi/chi/v5"
)

// Reference data from the map's Import dialog, beside the customers CSV (imports.go) and the
// boundaries (POST /api/v1/regions):
//
//	POST /api/v1/regions/{level}/attributes?code_col=C[&columns=A,B=KEY]  body: CSV
//	     numeric columns merged into the regions' attributes (population → penetration)
//	POST /api/v1/footfall?[format=long|wide&tz=ZONE&date_layout=L]       multipart: an
//	     optional "sensors" part (locations CSV) first, then "file" (hourly counts CSV)
//
// Both answer what they stored and the first rejected rows with their row and reason; good
// rows land, bad ones are reported, and a failure leaves the database as it was.

// maxRejectsShown caps the rejects a JSON answer carries; the count says how many there were.
const maxRejectsShown = 100

// maxRejectBytes bounds what a rejectList keeps: room for maxRejectsShown rejects, not for
// every reject of a big file.
const maxRejectBytes = 1 << 20

// rejectList collects the first "row,reason" records written by the importers' csv.Writer.
type rejectList struct {
	buf  bytes.Buffer
	full bool // bytes were dropped: the last record kept may be cut
	w    *csv.Writer
}

func newRejectList() *rejectList {
	l := &rejectList{}
	l.w = csv.NewWriter(l)
	return l
}

// Write keeps p while the list has room (csv.Writer's output).
func (l *rejectList) Write(p []byte) (int, error) {
	if room := maxRejectBytes - l.buf.Len(); len(p) > room {
		l.full = true
		l.buf.Write(p[:max(room, 0)])
		return len(p), nil
	}
	return l.buf.Write(p)
}

// first returns up to maxRejectsShown of the rejects.
func (l *rejectList) first() []crm.Reject {
	l.w.Flush()
	out := []crm.Reject{}
	r := csv.NewReader(&l.buf)
	r.FieldsPerRecord = -1
	for len(out) < maxRejectsShown {
		rec, err := r.Read()
		if err != nil {
			if l.full && len(out) > 0 { // the end of what was kept: the last record may be cut
				out = out[:len(out)-1]
			}
			break
		}
		row, _ := strconv.ParseInt(rec[0], 10, 64)
		out = append(out, crm.Reject{Row: row, Reason: strings.Join(rec[1:], ",")})
	}
	return out
}

// ReferenceImportRoutes mounts the region attribute and footfall uploads. footfall is the
// cache the footfall measures and tiles share: it reloads after an upload.
func (s *Server) ReferenceImportRoutes(footfall *olap.FootfallCache) func(chi.Router) {
	return func(r chi.Router) {
		r.Post("/api/v1/regions/{level}/attributes", s.importRegionAttributes)
		r.Post("/api/v1/footfall", func(w http.ResponseWriter, r *http.Request) { s.importFootfall(w, r, footfall) })
	}
}

func (s *Server) importRegionAttributes(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	opt := olap.RegionAttributesOptions{Code: strings.TrimSpace(q.Get("code_col"))}
	if opt.Code == "" {
		writeError(w, r, s.Log, geo.Errorf(geo.EINVALID, "give the column holding the region code as ?code_col=… (e.g. fips, or STATE:2+COUNTY:3)"))
		return
	}
	for _, c := range strings.Split(q.Get("columns"), ",") {
		if c = strings.TrimSpace(c); c != "" {
			opt.Columns = append(opt.Columns, c)
		}
	}
	rejects := newRejectList()
	res, err := olap.ImportRegionAttributes(r.Context(), s.DB, chi.URLParam(r, "level"), r.Body, opt, rejects.w)
	if err != nil {
		writeError(w, r, s.Log, err)
		return
	}
	s.syncRegions(r) // the penetration measure reads the new populations from the answer on
	writeJSON(w, http.StatusOK, struct {
		*olap.RegionAttributesResult
		Rejects []crm.Reject `json:"rejects"`
	}{res, rejects.first()})
}

// footfallImportResponse is the JSON answer of POST /api/v1/footfall.
type footfallImportResponse struct {
	SensorsImported int          `json:"sensors_imported"` // rows of the sensors file stored
	SensorRejects   []crm.Reject `json:"sensor_rejects"`   // its rows that were not
	Rows            int64        `json:"rows"`
	Counts          int64        `json:"counts"`
	Missing         int64        `json:"missing"`
	Rejected        int64        `json:"rejected"`
	Sensors         int          `json:"sensors"`
	NoLocation      []string     `json:"no_location"`
	Rejects         []crm.Reject `json:"rejects"`
}

func (s *Server) importFootfall(w http.ResponseWriter, r *http.Request, cache *olap.FootfallCache) {
	q := r.URL.Query()
	format := q.Get("format")
	if format != "" && format != crm.FootfallLong && format != crm.FootfallWide {
		writeError(w, r, s.Log, geo.Errorf(geo.EINVALID, "format %q is not long or wide (or leave it out to detect it)", format))
		return
	}
	tz := q.Get("tz")
	if tz == "" {
		tz = "UTC"
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		writeError(w, r, s.Log, geo.Errorf(geo.EINVALID, "time zone %q is not known: use an IANA name such as Australia/Melbourne", tz))
		return
	}
	mr, err := r.MultipartReader()
	if err != nil {
		writeError(w, r, s.Log, geo.Errorf(geo.EINVALID, "send the files as multipart/form-data: an optional part \"sensors\", then \"file\""))
		return
	}
	store := &crm.FootfallStore{DB: s.DB}
	f := crm.FootfallFormat{Format: format, Location: loc, DateLayout: q.Get("date_layout")}
	out := footfallImportResponse{NoLocation: []string{}, SensorRejects: []crm.Reject{}}
	rejects := newRejectList()
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			writeError(w, r, s.Log, geo.Errorf(geo.EINVALID, "cannot read the upload: %v", err))
			return
		}
		switch part.FormName() {
		case "sensors":
			sensorRejects := newRejectList()
			n, names, err := store.ImportSensors(r.Context(), part, loc.String(), sensorRejects.w)
			if err != nil {
				writeError(w, r, s.Log, err)
				return
			}
			out.SensorsImported, out.SensorRejects, f.Names = n, sensorRejects.first(), names
		case "file":
			st, err := store.ImportCounts(r.Context(), part, f, rejects.w)
			if err != nil {
				writeError(w, r, s.Log, err)
				return
			}
			out.Rows, out.Counts, out.Missing, out.Rejected, out.Sensors = st.Rows, st.Counts, st.Missing, st.Rejected, st.Sensors
			if st.NoLocation != nil {
				out.NoLocation = st.NoLocation
			}
			cache.Invalidate()
			out.Rejects = rejects.first()
			writeJSON(w, http.StatusOK, out)
			return
		}
	}
	writeError(w, r, s.Log, geo.Errorf(geo.EINVALID, "the upload has no part named \"file\" with the hourly counts"))
}
