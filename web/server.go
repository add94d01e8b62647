package web

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/gcrm/gcrm/crm"
	"github.com/gcrm/gcrm/geo/postgis"
	"github.com/go-chi/chi/v5"
	"github.com/go-chi/chi/v5/middleware"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Changes is told about every committed write, so that what is served from memory (tiles,
// cube) stays current. olap.Engine implements it.
type Changes interface {
	Put(c *crm.Customer)
	Remove(id, rev int64)
}

// Server holds what the handlers need. Build it with its fields, then call Handler.
type Server struct {
	DB        *postgis.DB
	Customers *crm.Store
	Index     Changes // may be nil
	Log       *slog.Logger
	Mounts    []func(chi.Router) // extra routes registered by other parts (tiles, imports, …)

	// SyncRegions brings what is served from memory (the cube's region levels and
	// populations: olap.SyncCubeRegions) up to the regions table; an import through the API
	// calls it before it answers, so a query sent after the answer sees the import. May be
	// nil (then only a background follower, if any, catches up).
	SyncRegions func(ctx context.Context) error

	// Users and Audit default to stores on DB (auth.go). Every route needs a rule in
	// auth_policy.go: a route without one is refused.
	Users         *crm.Users
	Audit         *crm.Audit
	SecureCookies bool // mark cookies Secure although this server sees plain HTTP (TLS ends at a proxy)
	TrustProxy    bool // take the client address from X-Forwarded-For / X-Real-IP (only behind a proxy that sets them)

	metrics  *metrics
	geocoder *GeocoderLoader // set by GeocodeRoutes; imports place rows without coordinates with it (geocode.go)
}

type metrics struct {
	registry *prometheus.Registry
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newMetrics() *metrics {
	m := &metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gcrm_http_requests_total", Help: "HTTP requests by route and status.",
		}, []string{"route", "method", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "gcrm_http_request_seconds", Help: "HTTP request latency by route.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 10},
		}, []string{"route"}),
	}
	m.registry.MustRegister(m.requests, m.duration, prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	return m
}

// Handler returns the HTTP handler with every route.
func (s *Server) Handler() http.Handler {
	if s.Log == nil {
		s.Log = slog.Default()
	}
	s.metrics = newMetrics()
	if s.Users == nil {
		s.Users = crm.NewUsers(s.DB)
	}
	if s.Audit == nil {
		s.Audit = crm.NewAudit(s.DB)
	}
	r := chi.NewRouter()
	r.Use(middleware.RequestID)
	if s.TrustProxy { // else a client could pick its own address and dodge the sign-in limits
		r.Use(middleware.RealIP)
	}
	r.Use(s.logAndMeasure, middleware.Recoverer, s.guard(r))
	r.Get("/healthz", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok\n")) })
	r.Get("/readyz", s.ready)
	r.Get("/metrics", promhttp.HandlerFor(s.metrics.registry, promhttp.HandlerOpts{}).ServeHTTP)
	r.Route("/api/v1", func(r chi.Router) {
		r.Use(middleware.RequestSize(16 << 20))
		r.Route("/customers", s.customerRoutes)
		r.Route("/auth", s.authRoutes) // sign-in, sign-out, me, API tokens (auth.go)
		r.Get("/audit", s.listAudit)   // audit.go
	})
	s.uiRoutes(r) // the map UI at / and /static/* (ui.go)
	for _, m := range s.Mounts {
		m(r)
	}
	return r
}

// syncRegions runs SyncRegions after an import changed the regions. The import has
// committed: a failure is logged, not answered (the background follower retries).
func (s *Server) syncRegions(r *http.Request) {
	if s.SyncRegions == nil {
		return
	}
	if err := s.SyncRegions(r.Context()); err != nil {
		s.Log.Error("regions imported, but the cube is not yet current with them", "request_id", middleware.GetReqID(r.Context()), "err", err)
	}
}

func (s *Server) ready(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.DB.Pool.Ping(ctx); err != nil {
		http.Error(w, "database unreachable\n", http.StatusServiceUnavailable)
		return
	}
	w.Write([]byte("ready\n"))
}

// logAndMeasure logs one structured line per request with its request id, and counts it.
func (s *Server) logAndMeasure(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		ww := middleware.NewWrapResponseWriter(w, r.ProtoMajor)
		next.ServeHTTP(ww, r)
		route := chi.RouteContext(r.Context()).RoutePattern()
		if route == "" {
			route = "unmatched"
		}
		d := time.Since(start)
		s.metrics.requests.WithLabelValues(route, r.Method, strconv.Itoa(ww.Status())).Inc()
		s.metrics.duration.WithLabelValues(route).Observe(d.Seconds())
		s.Log.Info("request", "request_id", middleware.GetReqID(r.Context()), "method", r.Method,
			"path", r.URL.Path, "route", route, "status", ww.Status(), "bytes", ww.BytesWritten(),
			"ms", float64(d.Microseconds())/1000)
	})
}
