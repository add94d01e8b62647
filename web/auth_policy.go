package web

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/gcrm/gcrm/crm"
	"github.com/gcrm/gcrm/geo"
	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
)

// rule says who may call one route (method + chi pattern) and within which limits.
// A route without a rule is refused for everyone: adding a route means adding its rule
// here (and its expected row in the authorization matrix test).
type rule struct {
	public  bool     // anyone, signed in or not
	roles   []string // else: signed-in callers with one of these roles
	maxBody int64    // request body limit; 0 = defaultMaxBody
	timeout time.Duration
	// object names what a write changes, for the audit log ("customer" → customer.create,
	// customer.update, customer.delete). "" logs "<METHOD> <pattern>"; selfAudit means the
	// handler writes its own, richer entry.
	object    string
	selfAudit bool
	// export, when it says so for a request, audits a successful read as an export
	// (who, route, query, bytes) — for routes whose handler does not audit its own.
	export func(*http.Request) bool
}

func always(*http.Request) bool      { return true }
func csvFormat(r *http.Request) bool { return r.URL.Query().Get("format") == "csv" }

const (
	defaultMaxBody = 1 << 20
	defaultTimeout = 30 * time.Second
	longTimeout    = 10 * time.Minute
)

var (
	everyone  = crm.Roles
	adminOnly = []string{crm.RoleAdmin}
	editors   = []string{crm.RoleAdmin, crm.RoleManager, crm.RoleRep} // change customer records
	importers = []string{crm.RoleAdmin, crm.RoleManager}
	// referenceEditors load boundaries, their attributes and footfall: shared by everyone.
	referenceEditors = []string{crm.RoleAdmin, crm.RolePlanner}
	exporters        = []string{crm.RoleAdmin, crm.RoleManager, crm.RoleMarketer, crm.RoleRep}
)

// policy is the one table of who may call what, keyed "METHOD pattern" (the chi route
// pattern). Data scope (which records) is applied by the handlers through scopeOf.
var policy = map[string]rule{
	// Probes and the map UI's files carry no data.
	"GET /healthz":     {public: true},
	"GET /readyz":      {public: true},
	"GET /metrics":     {roles: everyone}, // counts per route, no records: a scraper needs only a low role
	"GET /":            {public: true},
	"GET /index.html":  {public: true},
	"GET /static/*":    {public: true},
	"HEAD /static/*":   {public: true},
	"GET /favicon.ico": {public: true},

	// Signing in and out, API tokens.
	"POST /api/v1/auth/login":                  {public: true, maxBody: 16 << 10, selfAudit: true},
	"POST /api/v1/auth/logout":                 {roles: everyone, selfAudit: true},
	"GET /api/v1/auth/me":                      {roles: everyone},
	"GET /api/v1/auth/tokens":                  {roles: everyone},
	"POST /api/v1/auth/tokens":                 {roles: everyone, maxBody: 16 << 10, selfAudit: true},
	"DELETE /api/v1/auth/tokens/{id}":          {roles: everyone, selfAudit: true},
	"GET /api/v1/audit":                        {roles: adminOnly},
	"GET /api/v1/customers/{id}/personal-data": {roles: adminOnly, selfAudit: true, timeout: longTimeout},
	"POST /api/v1/customers/{id}/erase":        {roles: adminOnly, selfAudit: true},
	// Activities: logged by the roles that edit records, on records in their scope.
	"GET /api/v1/customers/{id}/activities":  {roles: everyone},
	"POST /api/v1/customers/{id}/activities": {roles: editors, object: "activity"},

	// Customers: everyone reads within their scope; reps change only their own records.
	"GET /api/v1/customers/":           {roles: everyone},
	"POST /api/v1/customers/":          {roles: editors, object: "customer"},
	"GET /api/v1/customers/{id}":       {roles: everyone},
	"PATCH /api/v1/customers/{id}":     {roles: editors, object: "customer"},
	"DELETE /api/v1/customers/{id}":    {roles: []string{crm.RoleAdmin, crm.RoleManager}, object: "customer"},
	"GET /api/v1/customers/export.csv": {roles: exporters, selfAudit: true, timeout: longTimeout},

	// Customer tiles (scoped, cache keyed by scope), the cube (scoped) and regions and
	// footfall (no personal data).
	"GET /tiles/customers/{z}/{x}/{y}.mvt":    {roles: everyone},
	"GET /tiles/customers.json":               {roles: everyone},
	"GET /api/v1/cube":                        {roles: everyone, export: csvFormat},
	"GET /api/v1/cube/meta":                   {roles: everyone},
	"GET /tiles/hexagons/{z}/{x}/{y}.mvt":     {roles: everyone},
	"GET /tiles/regions/{z}/{x}/{y}.mvt":      {roles: everyone},
	"GET /tiles/regions.json":                 {roles: everyone},
	"GET /api/v1/regions":                     {roles: everyone},
	"GET /api/v1/regions/{level}/{code}":      {roles: everyone},
	"POST /api/v1/regions":                    {roles: referenceEditors, object: "region", maxBody: 256 << 20, timeout: longTimeout},
	"POST /api/v1/regions/{level}/attributes": {roles: referenceEditors, object: "region", maxBody: 64 << 20, timeout: longTimeout},
	"POST /api/v1/footfall":                   {roles: referenceEditors, object: "footfall", maxBody: 2 << 30, timeout: longTimeout},
	"GET /api/v1/footfall":                    {roles: everyone},
	"GET /tiles/footfall/{z}/{x}/{y}.mvt":     {roles: everyone},
	"GET /tiles/footfall.json":                {roles: everyone},

	// Imports create records in bulk; their rejects hold the rows as uploaded.
	"POST /api/v1/imports":                 {roles: importers, object: "import", maxBody: 2 << 30, timeout: longTimeout},
	"GET /api/v1/imports/{id}":             {roles: importers},
	"GET /api/v1/imports/{id}/rejects.csv": {roles: importers, timeout: longTimeout, export: always},

	// Geocoding: the review list is for those who fix records (scoped); address search and
	// reverse geocoding carry no records. A fix is PATCH /api/v1/customers/{id}.
	"GET /api/v1/geocode/review":  {roles: editors},
	"GET /api/v1/geocode/search":  {roles: everyone},
	"GET /api/v1/geocode/reverse": {roles: everyone},
}

// ruleFor returns the rule of a route; ok is false when there is none (deny).
func ruleFor(method, pattern string) (rule, bool) {
	ru, ok := policy[method+" "+pattern]
	return ru, ok
}

// PolicyRoles returns the roles allowed on a route and whether it is public; ok is false
// when the route has no rule. The authorization matrix test and the docs read it.
func PolicyRoles(method, pattern string) (roles []string, public, ok bool) {
	ru, ok := ruleFor(method, pattern)
	return ru.roles, ru.public, ok
}

func (ru rule) allows(u *crm.User) bool {
	if ru.public {
		return true
	}
	if u == nil {
		return false
	}
	for _, r := range ru.roles {
		if r == u.Role {
			return true
		}
	}
	return false
}

// capabilities are named features the UI shows or hides, each tied to one route's rule so
// the UI can never offer what the server would refuse.
var capabilityRoutes = map[string]string{
	"customers.create":   "POST /api/v1/customers/",
	"customers.update":   "PATCH /api/v1/customers/{id}",
	"customers.delete":   "DELETE /api/v1/customers/{id}",
	"customers.export":   "GET /api/v1/customers/export.csv",
	"imports":            "POST /api/v1/imports",
	"regions.import":     "POST /api/v1/regions",
	"regions.attributes": "POST /api/v1/regions/{level}/attributes",
	"footfall.import":    "POST /api/v1/footfall",
	"audit":              "GET /api/v1/audit",
	"privacy":            "GET /api/v1/customers/{id}/personal-data",
	"geocode.review":     "GET /api/v1/geocode/review",
	"activities.log":     "POST /api/v1/customers/{id}/activities",
}

func capabilities(role string) map[string]bool {
	u := &crm.User{Role: role}
	can := map[string]bool{}
	for name, key := range capabilityRoutes {
		method, pattern, _ := strings.Cut(key, " ")
		ru, ok := ruleFor(method, pattern)
		can[name] = ok && ru.allows(u)
	}
	return can
}

// workspaces are the map UI's workspaces (docs: notes/UX.md) each role may open.
var workspaces = map[string][]string{
	crm.RoleAdmin:    {"explore", "territories", "myday", "target"},
	crm.RoleManager:  {"explore", "territories"},
	crm.RolePlanner:  {"territories", "explore"},
	crm.RoleRep:      {"myday"},
	crm.RoleMarketer: {"target", "explore"},
}

// securityHeaders are sent with every response. The Content-Security-Policy is the one
// the map UI works under: everything from this origin, MapLibre's workers from blob:,
// images from data:/blob: (sprites, canvases); no inline script; no framing.
func securityHeaders(h http.Header, tls bool) {
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; "+
		"img-src 'self' data: blob:; worker-src 'self' blob:; connect-src 'self'; font-src 'self'; "+
		"object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	h.Set("Permissions-Policy", "geolocation=(self), camera=(), microphone=(), payment=()")
	if tls {
		h.Set("Strict-Transport-Security", "max-age=31536000")
	}
}

// guard is the one middleware that enforces the policy on mux: it sets the security
// headers, finds the caller, looks up the rule of the route the request will reach and
// refuses it when there is none or it does not allow the caller; then it checks CSRF,
// limits the body and sets the deadlines, and audits successful writes.
func (s *Server) guard(mux *chi.Mux) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			securityHeaders(w.Header(), r.TLS != nil)
			path := r.URL.RawPath
			if path == "" {
				path = r.URL.Path
			}
			pattern := mux.Find(chi.NewRouteContext(), r.Method, path)
			if pattern == "" {
				next.ServeHTTP(w, r) // chi answers 404 or 405; no handler runs
				return
			}
			ru, ok := ruleFor(r.Method, pattern)
			if !ok && !strings.HasSuffix(pattern, "/") {
				// Find names a subrouter's "/" route by its mount point ("/api/v1/customers"
				// for GET /api/v1/customers), where chi.Walk and RoutePattern say ".../".
				if ru, ok = ruleFor(r.Method, pattern+"/"); ok {
					pattern += "/"
				}
			}
			if !ok {
				s.Log.Error("route has no authorization rule: refused", "method", r.Method, "route", pattern)
				writeError(w, r, s.Log, geo.Errorf(geo.EFORBIDDEN, "%s %s is not open to anyone yet", r.Method, pattern))
				return
			}
			var p *principal
			reason := ""
			if !ru.public { // public routes never look at credentials (no database hit for assets)
				var err error
				if p, reason, err = s.authenticate(r); err != nil {
					writeError(w, r, s.Log, err)
					return
				}
			}
			if p != nil {
				r = r.WithContext(context.WithValue(r.Context(), principalKey{}, p))
				w.Header().Set("Cache-Control", "private, no-cache")
				w.Header().Add("Vary", "Cookie, Authorization")
			}
			if !ru.allows(userOf(r)) {
				if p == nil {
					w.Header().Set("WWW-Authenticate", `Bearer realm="gcrm"`)
					writeError(w, r, s.Log, geo.Errorf(geo.EUNAUTHORIZED, "%s", reason))
					return
				}
				s.auditDenied(r, pattern, "role")
				writeError(w, r, s.Log, geo.Errorf(geo.EFORBIDDEN, "the %s role may not use %s %s", p.User.Role, r.Method, pattern))
				return
			}
			if err := checkCSRF(r, p, ru.public); err != nil {
				if p != nil {
					s.auditDenied(r, pattern, "csrf")
				}
				writeError(w, r, s.Log, err)
				return
			}
			limit := ru.maxBody
			if limit == 0 {
				limit = defaultMaxBody
			}
			if r.ContentLength > limit {
				writeProblem(w, r, http.StatusRequestEntityTooLarge, geo.EINVALID, fmt.Sprintf("the request body is larger than %d bytes, the most %s %s takes", limit, r.Method, pattern))
				return
			}
			if r.Body != nil {
				r.Body = http.MaxBytesReader(w, r.Body, limit)
			}
			timeout := ru.timeout
			if timeout == 0 {
				timeout = defaultTimeout
			}
			rc := http.NewResponseController(w)
			_ = rc.SetReadDeadline(time.Now().Add(timeout)) // not every writer supports it (tests)
			_ = rc.SetWriteDeadline(time.Now().Add(timeout + 5*time.Second))
			ctx, cancel := context.WithTimeout(r.Context(), timeout)
			defer cancel()
			r = r.WithContext(ctx)
			ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
			next.ServeHTTP(ww, r)
			// (RoutePattern drops a trailing "/" that chi.Walk and Find keep.)
			if rp := chi.RouteContext(r.Context()).RoutePattern(); rp != pattern && rp+"/" != pattern {
				// The rule applied was not the route's own: a bug in the lookup above.
				s.Log.Error("authorization rule was looked up for another route", "rule", pattern, "route", rp)
			}
			st := ww.Status()
			switch {
			case st < 200 || st >= 300 || ru.selfAudit:
			case !safeMethod(r.Method):
				s.auditWrite(r, ru, pattern, ww)
			case ru.export != nil && ru.export(r):
				e := auditEntry(r, crm.AuditExport)
				e.Details["route"], e.Details["filter"], e.Details["bytes"] = r.Method+" "+pattern, r.URL.Query(), ww.BytesWritten()
				if rctx := chi.RouteContext(r.Context()); rctx != nil && rctx.URLParam("id") != "" {
					e.ObjectID = rctx.URLParam("id")
				}
				s.audit(r, e)
			}
		})
	}
}

// auditWrite records a successful write: "<object>.<verb>" with the record's id from the
// route's {id} or the Location of what was created.
func (s *Server) auditWrite(r *http.Request, ru rule, pattern string, w http.ResponseWriter) {
	verb := map[string]string{http.MethodPost: "create", http.MethodPut: "update", http.MethodPatch: "update", http.MethodDelete: "delete"}[r.Method]
	action := r.Method + " " + pattern
	if ru.object != "" && verb != "" {
		action = ru.object + "." + verb
	}
	e := auditEntry(r, action)
	e.ObjectType = ru.object
	if rctx := chi.RouteContext(r.Context()); rctx != nil {
		e.ObjectID = rctx.URLParam("id")
	}
	if e.ObjectID == "" {
		if loc := w.Header().Get("Location"); loc != "" {
			e.ObjectID = loc[strings.LastIndexByte(loc, '/')+1:]
		}
	}
	e.Details["route"] = r.Method + " " + pattern
	s.audit(r, e)
}

// PolicyKeys lists every route with a rule, sorted (for docs and tests).
func PolicyKeys() []string {
	keys := make([]string, 0, len(policy))
	for k := range policy {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// auditDenied records a signed-in caller refused by the policy (why: role or csrf): a
// user probing what they may not use, or a page of another site acting in their name.
func (s *Server) auditDenied(r *http.Request, pattern, why string) {
	e := auditEntry(r, crm.AuditDenied)
	e.Details["route"], e.Details["reason"] = r.Method+" "+pattern, why
	if rctx := chi.RouteContext(r.Context()); rctx != nil {
		e.ObjectID = rctx.URLParam("id")
	}
	s.audit(r, e)
}
