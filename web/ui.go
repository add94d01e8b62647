package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"sync"

	"github.com/go-chi/chi/v5"
)

// static is the map UI: index.html, app.js, style.css and vendor/, which scripts/setup fills
// with MapLibre GL JS from web/ui/node_modules (gitignored, so a checkout without set-up
// builds a binary whose / says how to get it).
//
//go:embed static
var static embed.FS

// uiVendorCheck is the file the UI cannot start without.
const uiVendorCheck = "vendor/maplibre-gl.mjs"

// uiRoutes serves the map at / and its files at /static/*.
func (s *Server) uiRoutes(r chi.Router) {
	sub, _ := fs.Sub(static, "static") // cannot fail: "static" is a valid, embedded path
	u := &uiFiles{fsys: sub, files: map[string]*uiFile{}}
	r.Get("/", u.index)
	r.Get("/index.html", u.index)
	r.Get("/static/*", u.asset)
	r.Head("/static/*", u.asset)
}

type uiFiles struct {
	fsys  fs.FS
	mu    sync.Mutex
	files map[string]*uiFile
}

// uiFile is one embedded file with its ETag and, for text, a gzip copy made on first use.
type uiFile struct {
	name, ctype, etag string
	data, gz          []byte
}

func (u *uiFiles) get(name string) (*uiFile, error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if f, ok := u.files[name]; ok {
		return f, nil
	}
	data, err := fs.ReadFile(u.fsys, name)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(data)
	f := &uiFile{name: name, data: data, etag: `"` + hex.EncodeToString(sum[:12]) + `"`}
	switch ext := path.Ext(name); ext {
	case ".mjs", ".js":
		f.ctype = "text/javascript; charset=utf-8"
	default:
		f.ctype = mime.TypeByExtension(ext)
		if f.ctype == "" {
			f.ctype = "application/octet-stream"
		}
	}
	if compressible(f.ctype) && len(data) > 1024 {
		var b bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
		zw.Write(data)
		zw.Close()
		f.gz = b.Bytes()
	}
	u.files[name] = f
	return f, nil
}

func compressible(ctype string) bool {
	for _, p := range []string{"text/", "application/json", "image/svg", "application/x-protobuf"} {
		if strings.HasPrefix(ctype, p) {
			return true
		}
	}
	return false
}

func (u *uiFiles) index(w http.ResponseWriter, r *http.Request) {
	if _, err := fs.Stat(u.fsys, uiVendorCheck); err != nil {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte("gcrm's map UI is not in this build: run ./scripts/setup (npm packages missing), then rebuild gcrm.\n" +
			"The API (/api/v1/…) and tiles (/tiles/…) work without it.\n"))
		return
	}
	f, err := u.get("index.html")
	if err != nil {
		http.Error(w, "index.html missing from the build", http.StatusInternalServerError)
		return
	}
	// The page runs under the Content-Security-Policy that guard sends with every response
	// (auth_policy.go): no inline script or style, workers and data from this origin only.
	u.serve(w, r, f)
}

func (u *uiFiles) asset(w http.ResponseWriter, r *http.Request) {
	name := chi.URLParam(r, "*")
	if name == "" || strings.HasSuffix(name, "/") || !fs.ValidPath(name) {
		http.NotFound(w, r)
		return
	}
	f, err := u.get(name)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	u.serve(w, r, f)
}

// serve answers with f. Every file revalidates (no-cache) against its content ETag: a new
// build is picked up at once (app.js and the MapLibre files it imports never mix versions)
// and an unchanged file costs a 304.
func (u *uiFiles) serve(w http.ResponseWriter, r *http.Request, f *uiFile) {
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Add("Vary", "Accept-Encoding")
	h.Set("Cache-Control", "no-cache")
	var gz func() []byte
	if f.gz != nil {
		gz = func() []byte { return f.gz }
	}
	writeBody(w, r, f.etag, f.ctype, f.data, gz)
}
