package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/gcrm/gcrm/crm"
	"github.com/gcrm/gcrm/geo"
	"github.com/gcrm/gcrm/geo/postgis"
	"github.com/gcrm/gcrm/olap"
	"github.com/gcrm/gcrm/tiles"
	"github.com/gcrm/gcrm/web"
)

func init() { register("serve", "run the HTTP server (API, tiles, map UI)", serveCmd) }

type serveFlags struct {
	db      dbFlags
	addr    string
	geocode geocodeFlags // the geocoder of /api/v1/geocode/search and /reverse (geocode_setup.go)
}

func (f *serveFlags) register(fs *flag.FlagSet, getenv func(string) string) {
	f.db.register(fs, getenv)
	def := getenv("GCRM_ADDR")
	if def == "" {
		def = "127.0.0.1:8080"
	}
	fs.StringVar(&f.addr, "addr", def, "address to listen on")
	f.geocode.register(fs, getenv)
}

func serveCmd(ctx context.Context, e env) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	var f serveFlags
	f.register(fs, e.getenv)
	if err := fs.Parse(e.args); err != nil {
		return 2
	}
	db, closeDB, err := f.db.open(ctx, e)
	if err != nil {
		return fail(e, err)
	}
	defer closeDB()
	return serve(ctx, e, db, f.addr, &f.geocode)
}

// serve builds the server on db and runs it until ctx ends.
func serve(ctx context.Context, e env, db *postgis.DB, addr string, gf *geocodeFlags) int {
	ctx, cancel := context.WithCancel(ctx) // ends the followers however serve returns
	defer cancel()
	log := slog.New(slog.NewJSONHandler(e.stderr, nil))
	srv, err := buildServer(ctx, db, log, gf)
	if err != nil {
		return fail(e, err)
	}
	// Behind a TLS-terminating proxy: mark cookies Secure, and take the client address
	// (sign-in limits, audit) from the proxy's X-Forwarded-For — only when it sets it.
	srv.SecureCookies = e.getenv("GCRM_SECURE_COOKIES") == "1"
	srv.TrustProxy = e.getenv("GCRM_TRUST_PROXY") == "1"
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fail(e, fmt.Errorf("listen on %s: %w", addr, err))
	}
	hs := &http.Server{
		Handler:           srv.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       5 * time.Minute, // imports upload large files
		WriteTimeout:      5 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	fmt.Fprintf(e.stdout, "gcrm: serving on http://%s/\n", ln.Addr())
	select {
	case err := <-errc:
		return fail(e, err)
	case <-ctx.Done():
	}
	shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := hs.Shutdown(shutdown); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fail(e, err)
	}
	fmt.Fprintln(e.stdout, "gcrm: stopped")
	return 0
}

// buildServer wires stores, the in-memory engine and every part's routes into a web.Server.
// geocoding (at most one) configures the geocoder of the geocoding routes; without it they
// answer 503 but the review list works.
func buildServer(ctx context.Context, db *postgis.DB, log *slog.Logger, geocoding ...*geocodeFlags) (*web.Server, error) {
	s := &web.Server{DB: db, Customers: crm.NewStore(db), Log: log}
	// The in-memory engine: loaded now, then kept current by the API's writes (s.Index)
	// and by the change feed (other processes, replicas) until ctx ends.
	engine := olap.New()
	engine.Log = log
	cube, err := olap.LoadCube(ctx, db) // the cube follows the engine's writes (olap/cube.go)
	if err != nil {
		return nil, err
	}
	engine.Observer = cube
	footfall := &olap.FootfallCache{DB: db} // the footfall measures, layer and API share it
	cube.SetFootfall(footfall)
	start := time.Now()
	if err := engine.Load(ctx, s.Customers); err != nil {
		return nil, err
	}
	log.Info("engine loaded", "points", engine.Snapshot().Len(), "ms", time.Since(start).Milliseconds())
	go engine.Follow(ctx, db)
	// Regions imported or changed while serving re-key the cube (a reload of the engine) or
	// swap its populations: at once when imported through the API (before it answers), and
	// every 5 s for any change (the CLI, another replica, an API sync that failed).
	s.SyncRegions = func(ctx context.Context) error {
		_, err := olap.SyncCubeRegions(ctx, db, cube, engine, s.Customers)
		return err
	}
	go olap.FollowCubeRegions(ctx, db, cube, engine, s.Customers, log, 5*time.Second)
	s.Index = engine
	s.Mounts = append(s.Mounts, s.CustomerTiles(tiles.NewService(engine)))
	// GET /api/v1/cube, /api/v1/cube/meta, /tiles/hexagons (web/cube*.go)
	s.Mounts = append(s.Mounts, s.CubeRoutes(cube, engine), s.HexagonTiles(tiles.NewHexagons(cube, engine)))
	s.Mounts = append(s.Mounts, s.RegionRoutes(olap.NewRegionStore(db))) // /tiles/regions, /api/v1/regions (web/regions.go)
	s.Mounts = append(s.Mounts, s.ImportRoutes)                          // POST /api/v1/imports (web/imports.go)
	s.Mounts = append(s.Mounts, s.FootfallRoutes(footfall), s.FootfallTiles(tiles.NewFootfallTiles(footfall)), s.ReferenceImportRoutes(footfall))
	go olap.FollowAssignments(ctx, db, log)
	// The geocoder is built once, in the background (the gazetteer takes seconds to load):
	// meanwhile search and reverse answer 503 "geocoder is still loading" (web/geocode.go).
	var geocoder *web.GeocoderLoader
	if len(geocoding) > 0 && geocoding[0] != nil {
		gf := *geocoding[0]
		gf.follow = log // 'gcrm import addresses' while the server runs: used at once
		geocoder = web.LoadGeocoder(ctx, func(ctx context.Context) (*web.Geocoding, error) {
			start := time.Now()
			g, err := gf.build(ctx, env{stderr: logWriter{log}}, db)
			if err != nil {
				log.Error("geocoder not loaded: search and reverse answer 503", "err", geo.ErrorMessage(err))
				return nil, err
			}
			log.Info("geocoder loaded", "providers", g.Name(), "ms", time.Since(start).Milliseconds())
			return &web.Geocoding{Geocoder: g, Addresses: crm.NewAddressStore(db)}, nil
		})
	}
	s.Mounts = append(s.Mounts, s.GeocodeRoutes(geocoder)) // /api/v1/geocode/review, /search, /reverse
	return s, nil
}

// logWriter turns what the geocoder set-up prints into log lines.
type logWriter struct{ log *slog.Logger }

func (w logWriter) Write(p []byte) (int, error) {
	w.log.Info(strings.TrimSpace(strings.TrimPrefix(string(p), "gcrm: ")))
	return len(p), nil
}
