package web

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gcrm/gcrm/crm"
	"github.com/gcrm/gcrm/geo"
	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
)

// Cookie and header names.
const (
	sessionCookie = "gcrm_session"
	csrfHeader    = "X-CSRF-Token"
)

// principal is who is calling: a user signed in with a session cookie or an API token.
type principal struct {
	User    *crm.User
	Session *crm.Session // nil for token callers
	Token   *crm.Token   // nil for session callers
	secret  string       // the session cookie value, for sign-out
}

type principalKey struct{}

// userOf returns the signed-in user of r, or nil for an anonymous caller.
func userOf(r *http.Request) *crm.User {
	if p, _ := r.Context().Value(principalKey{}).(*principal); p != nil {
		return p.User
	}
	return nil
}

func principalOf(r *http.Request) *principal {
	p, _ := r.Context().Value(principalKey{}).(*principal)
	return p
}

// scopeOf returns the data scope of the caller (crm.ScopeFor): a caller that is not
// signed in sees nothing.
func scopeOf(r *http.Request) crm.Scope { return crm.ScopeFor(userOf(r)) }

// parseBearer returns the token of an "Authorization: Bearer <token>" header. ok is false
// for any other scheme or shape; the token's own format is checked by crm.ValidAPIToken.
func parseBearer(h string) (token string, ok bool) {
	scheme, rest, found := strings.Cut(h, " ")
	if !found || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(rest)
	if token == "" || len(token) > 256 || strings.ContainsAny(token, " \t\r\n") {
		return "", false
	}
	return token, true
}

// sessionSecret returns the session cookie's value from a request's Cookie headers, or ""
// when there is none of the right shape.
func sessionSecret(h http.Header) string {
	r := http.Request{Header: h}
	for _, c := range r.Cookies() {
		if c.Name == sessionCookie && crm.ValidSessionToken(c.Value) {
			return c.Value
		}
	}
	return ""
}

// authenticate finds the caller of r. A malformed or dead credential leaves the caller
// anonymous with a reason (answered as 401 where a route needs a user); only a database
// failure is an error.
func (s *Server) authenticate(r *http.Request) (p *principal, reason string, err error) {
	if h := r.Header.Get("Authorization"); h != "" {
		tok, ok := parseBearer(h)
		if !ok {
			return nil, "the Authorization header must be \"Bearer\" and an API token", nil
		}
		u, t, err := s.Users.FindToken(r.Context(), tok)
		if geo.ErrorCode(err) == geo.EUNAUTHORIZED {
			return nil, geo.ErrorMessage(err), nil
		}
		if err != nil {
			return nil, "", err
		}
		return &principal{User: u, Token: t}, "", nil
	}
	secret := sessionSecret(r.Header)
	if secret == "" {
		return nil, "sign in first", nil
	}
	sess, err := s.Users.FindSession(r.Context(), secret)
	if geo.ErrorCode(err) == geo.EUNAUTHORIZED {
		return nil, geo.ErrorMessage(err), nil
	}
	if err != nil {
		return nil, "", err
	}
	return &principal{User: sess.User, Session: sess, secret: secret}, "", nil
}

// checkCSRF refuses a cookie-authenticated write that does not carry the session's CSRF
// token, and any write a browser marks as coming from another site. Token callers are not
// at risk: browsers never attach an Authorization header on their own.
//
// Public writes (signing in) have no session to hold a token; they rely on the origin
// check here and on accepting only JSON, which a cross-site form cannot send.
func checkCSRF(r *http.Request, p *principal, public bool) error {
	if safeMethod(r.Method) {
		return nil
	}
	if r.Header.Get("Sec-Fetch-Site") == "cross-site" || !sameOrigin(r) {
		return geo.Errorf(geo.EFORBIDDEN, "cross-site requests may not change anything")
	}
	if public || p == nil || p.Session == nil {
		return nil
	}
	got := r.Header.Get(csrfHeader)
	if got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(p.Session.CSRFToken)) != 1 {
		return geo.Errorf(geo.EFORBIDDEN, "the request lacks a valid %s header: reload the page and try again", csrfHeader)
	}
	return nil
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// sameOrigin reports whether the request's Origin header, when present, names this host.
func sameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	u, err := url.Parse(o)
	return err == nil && u.Host != "" && strings.EqualFold(u.Host, r.Host)
}

func (s *Server) secureCookies(r *http.Request) bool { return r.TLS != nil || s.SecureCookies }

func (s *Server) setSessionCookie(w http.ResponseWriter, r *http.Request, secret string, expires time.Time) {
	c := &http.Cookie{
		Name: sessionCookie, Value: secret, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode,
		Secure: s.secureCookies(r),
	}
	if secret == "" {
		c.MaxAge = -1
	} else {
		c.Expires = expires
	}
	http.SetCookie(w, c)
}

// address is the caller's network address as seen by the server (RealIP applied only when
// the server trusts its proxy).
func address(r *http.Request) string {
	a := r.RemoteAddr
	if i := strings.LastIndexByte(a, ':'); i > 0 && !strings.HasSuffix(a, "]") {
		a = a[:i]
	}
	return strings.Trim(a, "[]")
}

// auditEntry starts an audit entry about r's caller.
func auditEntry(r *http.Request, action string) *crm.AuditEntry {
	e := &crm.AuditEntry{Action: action, Address: address(r), RequestID: middleware.GetReqID(r.Context()), Details: map[string]any{}}
	if u := userOf(r); u != nil {
		e.Actor, e.ActorRole = u.Email, u.Role
		if p := principalOf(r); p != nil && p.Token != nil {
			e.Details["token_id"] = p.Token.ID
		}
	}
	return e
}

// audit appends e; a failure is logged (the change it describes is already committed).
func (s *Server) audit(r *http.Request, e *crm.AuditEntry) {
	if err := s.Audit.Record(context.WithoutCancel(r.Context()), e); err != nil {
		s.Log.Error("audit log write failed", "request_id", e.RequestID, "action", e.Action, "err", err)
	}
}

func (s *Server) authRoutes(r chi.Router) {
	r.Post("/login", s.login)
	r.Post("/logout", s.logout)
	r.Get("/me", s.me)
	r.Get("/tokens", s.listTokens)
	r.Post("/tokens", s.createToken)
	r.Delete("/tokens/{id}", s.revokeToken)
}

type meResponse struct {
	User       *crm.User       `json:"user"`
	Via        string          `json:"via"` // session or token
	CSRFToken  string          `json:"csrf_token,omitempty"`
	ExpiresAt  *time.Time      `json:"expires_at,omitempty"`
	Can        map[string]bool `json:"can"`        // features the role may use, for the UI
	Workspaces []string        `json:"workspaces"` // UI workspaces the role may open
}

func (s *Server) meOf(p *principal) meResponse {
	m := meResponse{User: p.User, Via: "token", Can: capabilities(p.User.Role), Workspaces: workspaces[p.User.Role]}
	if p.Session != nil {
		m.Via, m.CSRFToken, m.ExpiresAt = "session", p.Session.CSRFToken, &p.Session.ExpiresAt
	}
	return m
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		// A cross-site HTML form cannot send JSON, so this also stops login CSRF.
		writeError(w, r, s.Log, geo.Errorf(geo.EINVALID, "send the sign-in as JSON: {\"email\": …, \"password\": …}"))
		return
	}
	var in struct {
		Email    string `json:"email"`
		Password string `json:"password"`
	}
	if err := readJSON(r, &in); err != nil {
		writeError(w, r, s.Log, err)
		return
	}
	u, err := s.Users.Authenticate(r.Context(), in.Email, in.Password, address(r))
	if err != nil {
		if geo.ErrorCode(err) == geo.EUNAUTHORIZED {
			e := auditEntry(r, crm.AuditLoginFailed)
			e.ObjectType, e.ObjectID = "user", crm.AttemptedEmail(in.Email)
			if err == crm.ErrTooManyAttempts {
				e.Details["rate_limited"] = true
				s.audit(r, e)
				w.Header().Set("Retry-After", "900")
				writeProblem(w, r, http.StatusTooManyRequests, "rate_limited", geo.ErrorMessage(err))
				return
			}
			s.audit(r, e)
		}
		writeError(w, r, s.Log, err)
		return
	}
	if old := sessionSecret(r.Header); old != "" { // never keep a session across a sign-in
		_ = s.Users.DeleteSession(r.Context(), old)
	}
	secret, sess, err := s.Users.CreateSession(r.Context(), u, address(r), r.UserAgent())
	if err != nil {
		writeError(w, r, s.Log, err)
		return
	}
	s.setSessionCookie(w, r, secret, sess.ExpiresAt)
	// Sign-ins are rare: a good moment to drop ended sessions and old attempts.
	if err := s.Users.PruneSessions(r.Context()); err != nil {
		s.Log.Warn("pruning sessions", "err", err)
	}
	if err := s.Users.PruneLoginAttempts(r.Context()); err != nil {
		s.Log.Warn("pruning sign-in attempts", "err", err)
	}
	p := &principal{User: u, Session: sess}
	e := auditEntry(r.WithContext(context.WithValue(r.Context(), principalKey{}, p)), crm.AuditLogin)
	e.ObjectType, e.ObjectID = "user", u.Email
	s.audit(r, e)
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, s.meOf(p))
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	p := principalOf(r)
	if p.Session != nil {
		if err := s.Users.DeleteSession(r.Context(), p.secret); err != nil {
			writeError(w, r, s.Log, err)
			return
		}
		s.audit(r, auditEntry(r, crm.AuditLogout))
	}
	s.setSessionCookie(w, r, "", time.Time{})
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) me(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, s.meOf(principalOf(r)))
}

func (s *Server) listTokens(w http.ResponseWriter, r *http.Request) {
	u := userOf(r)
	uid := u.ID
	if u.Role == crm.RoleAdmin && r.URL.Query().Get("all") == "1" {
		uid = 0
	}
	list, err := s.Users.Tokens(r.Context(), uid)
	if err != nil {
		writeError(w, r, s.Log, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"tokens": list})
}

func (s *Server) createToken(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Name          string `json:"name"`
		Role          string `json:"role"`
		ExpiresInDays int    `json:"expires_in_days"`
	}
	if err := readJSON(r, &in); err != nil {
		writeError(w, r, s.Log, err)
		return
	}
	if in.ExpiresInDays < 0 || in.ExpiresInDays > 3650 {
		writeError(w, r, s.Log, geo.Errorf(geo.EINVALID, "expires_in_days must be from 0 (never) to 3650"))
		return
	}
	secret, t, err := s.Users.CreateToken(r.Context(), userOf(r), in.Role, in.Name, time.Duration(in.ExpiresInDays)*24*time.Hour)
	if err != nil {
		writeError(w, r, s.Log, err)
		return
	}
	e := auditEntry(r, crm.AuditTokenCreate)
	e.ObjectType, e.ObjectID = "token", strconv.FormatInt(t.ID, 10)
	e.Details["role"], e.Details["name"], e.Details["prefix"] = t.Role, t.Name, t.Prefix
	s.audit(r, e)
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusCreated, struct {
		*crm.Token
		Secret string `json:"token"`
	}{t, secret})
}

func (s *Server) revokeToken(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r)
	if err != nil {
		writeError(w, r, s.Log, err)
		return
	}
	u := userOf(r)
	uid := u.ID
	if u.Role == crm.RoleAdmin {
		uid = 0
	}
	t, err := s.Users.RevokeToken(r.Context(), uid, id)
	if err != nil {
		writeError(w, r, s.Log, err)
		return
	}
	e := auditEntry(r, crm.AuditTokenRevoke)
	e.ObjectType, e.ObjectID = "token", strconv.FormatInt(t.ID, 10)
	e.Details["owner"], e.Details["role"], e.Details["prefix"] = t.Email, t.Role, t.Prefix
	s.audit(r, e)
	w.WriteHeader(http.StatusNoContent)
}

// writeProblem answers a problem+json with a status that has no geo error code (429).
func writeProblem(w http.ResponseWriter, r *http.Request, status int, code, detail string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(problem{
		Type: "about:blank", Title: http.StatusText(status), Status: status,
		Detail: detail, Code: code, RequestID: middleware.GetReqID(r.Context()),
	})
}
