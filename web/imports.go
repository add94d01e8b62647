package web

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"

	"github.com/gcrm/gcrm/crm"
	"github.com/gcrm/gcrm/geo"
	"github.com/go-chi/chi/v5"
)

// maxImportBytes bounds one uploaded import file (the policy's body limit applies too).
const maxImportBytes = 1 << 30

// ImportRoutes registers the import API, for Server.Mounts. It sits outside /api/v1's
// router so that only this route takes large bodies:
//
//	POST /api/v1/imports?kind=customers        multipart form, field "file": a CSV file
//	                                           (&geocode=false: reject rows without coordinates
//	                                           instead of geocoding them with the server's geocoder)
//	GET  /api/v1/imports/{id}                  the run and its counts
//	GET  /api/v1/imports/{id}/rejects.csv      every rejected row with _row and _reason
func (s *Server) ImportRoutes(r chi.Router) {
	r.Post("/api/v1/imports", s.createImport)
	r.Get("/api/v1/imports/{id}", s.getImport)
	r.Get("/api/v1/imports/{id}/rejects.csv", s.importRejects)
}

// importResponse is the answer to an import: its counts, the first rejects, and where the
// whole rejects file is.
type importResponse struct {
	*crm.ImportRun
	Rejects    []crm.Reject `json:"rejects"`
	RejectsURL string       `json:"rejects_url,omitempty"`
}

// createImport streams the uploaded CSV straight into the import: the upload is never held
// in memory or on disk, and rejects are stored as they are found.
func (s *Server) createImport(w http.ResponseWriter, r *http.Request) {
	kind := r.URL.Query().Get("kind")
	if kind == "" {
		kind = "customers"
	}
	if kind != "customers" {
		writeError(w, r, s.Log, geo.Errorf(geo.EINVALID, "kind %q cannot be imported here: use kind=customers", kind))
		return
	}
	gc, err := s.importGeocoder(r) // geocode.go: rows without coordinates are placed, or kept as ungeocoded
	if err != nil {
		writeError(w, r, s.Log, err)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxImportBytes)
	mr, err := r.MultipartReader()
	if err != nil {
		writeError(w, r, s.Log, geo.Errorf(geo.EINVALID, "send the CSV as multipart/form-data in a field named \"file\""))
		return
	}
	var file io.Reader
	var filename string
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			writeError(w, r, s.Log, geo.Errorf(geo.EINVALID, "the multipart body is broken: %v", err))
			return
		}
		if part.FormName() == "file" {
			file, filename = part, part.FileName()
			break
		}
		_ = part.Close()
	}
	if file == nil {
		writeError(w, r, s.Log, geo.Errorf(geo.EINVALID, "the form has no field named \"file\": attach the CSV as \"file\""))
		return
	}
	ctx := r.Context()
	run := &crm.ImportRun{Kind: kind, Filename: filename}
	if u := userOf(r); u != nil {
		run.CreatedBy = u.Email
	}
	if err := s.Customers.CreateImportRun(ctx, run); err != nil {
		writeError(w, r, s.Log, err)
		return
	}
	rejects := s.Customers.ImportRejectsWriter(ctx, run.ID)
	res, err := s.Customers.Import(ctx, file, crm.ImportOptions{Rejects: rejects, Geocoder: gc})
	if err == nil {
		err = rejects.Close()
	}
	// Record the end even when the client has gone: the run must not stay "running".
	if ferr := s.Customers.FinishImportRun(context.WithoutCancel(ctx), run, res, err); ferr != nil && err == nil {
		err = ferr
	}
	if err != nil {
		writeError(w, r, s.Log, err)
		return
	}
	s.imported(ctx)
	out := importResponse{ImportRun: run, Rejects: res.Rejects}
	if out.Rejects == nil {
		out.Rejects = []crm.Reject{}
	}
	loc := "/api/v1/imports/" + strconv.FormatInt(run.ID, 10)
	if res.Rejected > 0 {
		out.RejectsURL = loc + "/rejects.csv"
	}
	w.Header().Set("Location", loc)
	writeJSON(w, http.StatusCreated, out)
}

// imported brings what is served from memory up to date after an import. The engine also
// follows the change feed (LISTEN gcrm_changes), but syncing here means the import is on
// the map by the time the client gets its answer.
func (s *Server) imported(ctx context.Context) {
	type syncer interface {
		Sync(ctx context.Context, store *crm.Store) error
	}
	if sy, ok := s.Index.(syncer); ok {
		if err := sy.Sync(ctx, s.Customers); err != nil {
			s.Log.Warn("engine sync after import failed; the change feed will catch up", "err", err)
		}
	}
}

func (s *Server) getImport(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		writeError(w, r, s.Log, err)
		return
	}
	run, err := s.Customers.FindImportRun(r.Context(), id)
	if err != nil {
		writeError(w, r, s.Log, err)
		return
	}
	out := importResponse{ImportRun: run}
	if run.Rejected > 0 {
		out.RejectsURL = "/api/v1/imports/" + strconv.FormatInt(run.ID, 10) + "/rejects.csv"
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) importRejects(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		writeError(w, r, s.Log, err)
		return
	}
	run, err := s.Customers.FindImportRun(r.Context(), id)
	if err != nil {
		writeError(w, r, s.Log, err)
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="import-`+strconv.FormatInt(run.ID, 10)+`-rejects.csv"`)
	if err := s.Customers.WriteImportRejects(r.Context(), id, w); err != nil {
		s.Log.Error("writing rejects failed", "import", id, "err", err) // the status line is gone
	}
}
