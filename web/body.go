package web

import (
	"net/http"
	"strconv"
	"strings"
)

// writeBody answers a GET or HEAD with body under etag: 304 when the client already has it,
// gzip when the client accepts it (gz, called only then, gives the compressed bytes; nil
// when there is none), and a Content-Length. Callers set Cache-Control and Vary first.
func writeBody(w http.ResponseWriter, r *http.Request, etag, contentType string, body []byte, gz func() []byte) {
	h := w.Header()
	h.Set("ETag", etag)
	if etagMatch(r.Header.Get("If-None-Match"), etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Type", contentType)
	if len(body) > 0 && gz != nil && acceptsGzip(r.Header.Get("Accept-Encoding")) {
		body = gz()
		h.Set("Content-Encoding", "gzip")
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		w.Write(body)
	}
}

// etagMatch reports whether an If-None-Match header names etag (or is *).
func etagMatch(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == etag || t == "*" {
			return true
		}
	}
	return false
}

// acceptsGzip reports whether an Accept-Encoding header accepts gzip (and has not refused
// it with q=0).
func acceptsGzip(header string) bool {
	for _, p := range strings.Split(header, ",") {
		enc, q, _ := strings.Cut(strings.TrimSpace(p), ";")
		if strings.EqualFold(strings.TrimSpace(enc), "gzip") {
			q = strings.ReplaceAll(strings.TrimSpace(q), " ", "")
			return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
		}
	}
	return false
}
