package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/gcrm/gcrm/crm"
	"github.com/gcrm/gcrm/geo/postgis"
	"github.com/gcrm/gcrm/olap"
	"github.com/gcrm/gcrm/tiles"
	"github.com/gcrm/gcrm/web"
)

func init() { register("serve", "run the HTTP server (API, tiles, map UI)", serveCmd) }

type serveFlags struct {
	db   dbFlags
	addr string
}

func (f *serveFlags) register(fs *flag.FlagSet, getenv func(string) string) {
	f.db.register(fs, getenv)
	def := getenv("GCRM_ADDR")
	if def == "" {
		def = "127.0.0.1:8080"
	}
	fs.StringVar(&f.addr, "addr", def, "address to listen on")
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
	return serve(ctx, e, db, f.addr)
}

// serve builds the server on db and runs it until ctx ends.
func serve(ctx context.Context, e env, db *postgis.DB, addr string) int {
	ctx, cancel := context.WithCancel(ctx) // ends the followers however serve returns
	defer cancel()
	log := slog.New(slog.NewJSONHandler(e.stderr, nil))
	srv, err := buildServer(ctx, db, log)
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
func buildServer(ctx context.Context, db *postgis.DB, log *slog.Logger) (*web.Server, error) {
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
	start := time.Now()
	if err := engine.Load(ctx, s.Customers); err != nil {
		return nil, err
	}
	log.Info("engine loaded", "points", engine.Snapshot().Len(), "ms", time.Since(start).Milliseconds())
	go engine.Follow(ctx, db)
	s.Index = engine
	s.Mounts = append(s.Mounts, s.CustomerTiles(tiles.NewService(engine)))
	// GET /api/v1/cube, /api/v1/cube/meta, /tiles/hexagons (web/cube*.go)
	s.Mounts = append(s.Mounts, s.CubeRoutes(cube, engine), s.HexagonTiles(tiles.NewHexagons(cube, engine)))
	s.Mounts = append(s.Mounts, s.RegionRoutes(olap.NewRegionStore(db))) // /tiles/regions, /api/v1/regions (web/regions.go)
	s.Mounts = append(s.Mounts, s.ImportRoutes)                          // POST /api/v1/imports (web/imports.go)
	s.Mounts = append(s.Mounts, s.FootfallRoutes(&olap.FootfallCache{DB: db}))
	go olap.FollowAssignments(ctx, db, log)
	return s, nil
}
