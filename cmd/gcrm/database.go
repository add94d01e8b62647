package main

import (
	"context"
	"flag"
	"fmt"
	"net/url"
	"strings"

	"github.com/gcrm/gcrm/geo"
	"github.com/gcrm/gcrm/geo/postgis"
)

// dbFlags are the database flags every command that touches data shares.
type dbFlags struct {
	url     string
	dataDir string
}

func (f *dbFlags) register(fs *flag.FlagSet, getenv func(string) string) {
	fs.StringVar(&f.url, "db", getenv("DATABASE_URL"), "PostGIS database URL (default $DATABASE_URL; empty: run a private cluster under --data-dir)")
	def := getenv("GCRM_DATA_DIR")
	if def == "" {
		def = "./gcrm-data"
	}
	fs.StringVar(&f.dataDir, "data-dir", def, "data directory for the private PostgreSQL cluster")
}

// withParam adds the run-time parameter key=value (no spaces or quotes in value) to a
// connection string in URL or key=value form.
func withParam(conn, key, value string) string {
	if strings.HasPrefix(conn, "postgres://") || strings.HasPrefix(conn, "postgresql://") {
		sep := "?"
		if strings.Contains(conn, "?") {
			sep = "&"
		}
		return conn + sep + key + "=" + url.QueryEscape(value)
	}
	return conn + " " + key + "=" + value
}

// open connects to the configured database — starting the private cluster when no URL is
// given — and applies migrations. close stops what open started.
func (f *dbFlags) open(ctx context.Context, e env) (db *postgis.DB, close func(), err error) {
	url := f.url
	var cluster *postgis.Cluster
	if url == "" {
		fmt.Fprintf(e.stderr, "gcrm: starting private PostgreSQL+PostGIS under %s\n", f.dataDir)
		cluster, err = postgis.StartCluster(ctx, f.dataDir, postgis.ClusterOptions{})
		if err != nil {
			return nil, nil, err
		}
		url = cluster.URL("gcrm")
	}
	stop := func() {
		if err := cluster.Stop(); err != nil {
			fmt.Fprintln(e.stderr, "gcrm: stopping PostgreSQL:", err)
		}
	}
	db, err = postgis.Open(ctx, url)
	if err != nil {
		stop()
		return nil, nil, err
	}
	if err := db.Migrate(ctx); err != nil {
		db.Close()
		stop()
		if postgis.IsPostGISMissing(err) {
			return nil, nil, geo.Errorf(geo.EUNAVAILABLE, "PostGIS is not installed on the database server: install postgresql-15-postgis-3 (Debian) there")
		}
		return nil, nil, err
	}
	return db, func() { db.Close(); stop() }, nil
}
