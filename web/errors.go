package web

import (
	"encoding/json"
	"log/slog"
	"net/http"

	"github.com/gcrm/gcrm/geo"
	"github.com/go-chi/chi/v5/middleware"
)

// statusOf maps error codes to HTTP status: the one table for the whole API.
var statusOf = map[string]int{
	geo.EINVALID:      http.StatusBadRequest,
	geo.ENOTFOUND:     http.StatusNotFound,
	geo.ECONFLICT:     http.StatusConflict,
	geo.EUNAUTHORIZED: http.StatusUnauthorized,
	geo.EFORBIDDEN:    http.StatusForbidden,
	geo.EUNAVAILABLE:  http.StatusServiceUnavailable,
	geo.EINTERNAL:     http.StatusInternalServerError,
}

// problem is an RFC 9457 problem+json body.
type problem struct {
	Type      string `json:"type"`
	Title     string `json:"title"`
	Status    int    `json:"status"`
	Detail    string `json:"detail"`
	Code      string `json:"code"`
	RequestID string `json:"request_id,omitempty"`
}

// writeError answers err as problem+json. Internal errors are logged with the request id
// and shown only as "internal error".
func writeError(w http.ResponseWriter, r *http.Request, log *slog.Logger, err error) {
	code := geo.ErrorCode(err)
	status := statusOf[code]
	if status == 0 {
		status = http.StatusInternalServerError
	}
	rid := middleware.GetReqID(r.Context())
	if code == geo.EINTERNAL {
		log.Error("internal error", "request_id", rid, "method", r.Method, "path", r.URL.Path, "err", err)
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(problem{
		Type: "about:blank", Title: http.StatusText(status), Status: status,
		Detail: geo.ErrorMessage(err), Code: code, RequestID: rid,
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// readJSON decodes a JSON body into v, answering EINVALID for malformed JSON.
func readJSON(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	if err := dec.Decode(v); err != nil {
		return geo.Errorf(geo.EINVALID, "the request body is not valid JSON: %v", err)
	}
	return nil
}
