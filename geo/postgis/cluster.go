package postgis

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/gcrm/gcrm/geo"
)

// Cluster is a private PostgreSQL+PostGIS server that gcrm runs under its data directory
// when no database URL is given. It listens only on a unix socket inside that directory.
type Cluster struct {
	Dir     string // data directory of the cluster (…/pg)
	Socket  string // directory holding the unix socket
	bin     string
	cred    *syscall.Credential // set when running as root: the server runs as user postgres
	started bool                // true when this process started the server (and so stops it)
}

// ClusterOptions tune a managed cluster. Fast trades durability for speed (tests only).
type ClusterOptions struct {
	Fast bool
}

// StartCluster initialises (first time) and starts the cluster under dir, or reuses one that
// is already running there. It returns EUNAVAILABLE naming the Debian package to install
// when PostgreSQL or PostGIS is missing.
func StartCluster(ctx context.Context, dir string, opt ClusterOptions) (*Cluster, error) {
	bin, err := findPostgres()
	if err != nil {
		return nil, err
	}
	if err := checkPostGIS(bin); err != nil {
		return nil, err
	}
	dir, err = filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	pg := filepath.Join(dir, "pg")
	if os.Geteuid() == 0 && !traversable(dir) {
		// The server runs as user postgres, which cannot reach a data directory under, say,
		// /root: keep the cluster in a directory of its own, named after dir.
		pg = filepath.Join(sharedClusterRoot, fmt.Sprintf("%x", sha256.Sum256([]byte(dir)))[:16], "pg")
		if err := os.MkdirAll(filepath.Dir(pg), 0o755); err != nil {
			return nil, geo.Errorf(geo.EUNAVAILABLE, "cannot create %s for the cluster of %s: %v", filepath.Dir(pg), dir, err)
		}
		dir = filepath.Dir(pg)
	}
	c := &Cluster{Dir: pg, Socket: pg, bin: bin}
	if len(c.Socket) > 90 { // unix socket paths are limited to ~107 bytes
		if c.Socket, err = os.MkdirTemp("", "gcrm-sock-"); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, geo.Errorf(geo.EUNAVAILABLE, "cannot create data directory %s: %v", dir, err)
	}
	if os.Geteuid() == 0 {
		// initdb and postgres refuse to run as root: run them as the postgres user.
		if c.cred, err = postgresCredential(); err != nil {
			return nil, err
		}
		uid, gid := int(c.cred.Uid), int(c.cred.Gid)
		if err := os.Chmod(dir, 0o755); err != nil { // postgres must traverse it
			return nil, err
		}
		for _, d := range []string{c.Dir, c.Socket} {
			if err := os.MkdirAll(d, 0o700); err != nil {
				return nil, err
			}
			if err := os.Chown(d, uid, gid); err != nil {
				return nil, err
			}
		}
	}
	if _, err := os.Stat(filepath.Join(c.Dir, "PG_VERSION")); os.IsNotExist(err) {
		args := []string{"-D", c.Dir, "-U", "gcrm", "-A", "trust", "-E", "UTF8", "--locale=C.UTF-8"}
		if opt.Fast {
			args = append(args, "--no-sync")
		}
		if out, err := c.run(ctx, "initdb", args...); err != nil {
			return nil, geo.Errorf(geo.EUNAVAILABLE, "initdb in %s failed (is the directory readable by the postgres user?): %v\n%s", c.Dir, err, out)
		}
	}
	if _, err := c.run(ctx, "pg_ctl", "-D", c.Dir, "status"); err == nil {
		return c, c.createDatabase(ctx)
	}
	_ = os.Remove(filepath.Join(c.Dir, "postmaster.pid")) // stale after a crash
	o := fmt.Sprintf("-c listen_addresses='' -k %s -c max_connections=200 -c shared_buffers=256MB -c max_parallel_workers_per_gather=0"+
		// Bulk imports: index builds sort in memory, checkpoints stay rare, and a private
		// cluster has no replicas, so WAL carries only what crash recovery needs.
		" -c maintenance_work_mem=512MB -c max_wal_size=4GB -c wal_level=minimal -c max_wal_senders=0", c.Socket)
	if opt.Fast {
		o += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
	}
	if out, err := c.run(ctx, "pg_ctl", "-D", c.Dir, "-w", "-t", "60", "-l", filepath.Join(c.Dir, "server.log"), "-o", o, "start"); err != nil {
		log, _ := os.ReadFile(filepath.Join(c.Dir, "server.log"))
		return nil, geo.Errorf(geo.EUNAVAILABLE, "cannot start PostgreSQL in %s: %v\n%s\n%s", c.Dir, err, out, tail(log, 2000))
	}
	c.started = true
	return c, c.createDatabase(ctx)
}

// AttachCluster returns the cluster under dir (as StartCluster laid it out) so that it can be
// stopped, without starting it.
func AttachCluster(dir string) (*Cluster, error) {
	bin, err := findPostgres()
	if err != nil {
		return nil, err
	}
	c := &Cluster{Dir: filepath.Join(dir, "pg"), Socket: filepath.Join(dir, "pg"), bin: bin, started: true}
	if os.Geteuid() == 0 {
		if c.cred, err = postgresCredential(); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// URL returns the connection URL of database name on the cluster.
func (c *Cluster) URL(name string) string {
	return fmt.Sprintf("postgres://gcrm@/%s?host=%s&sslmode=disable", name, c.Socket)
}

// Stop stops the server if this process started it (a server found running is left alone).
func (c *Cluster) Stop() error {
	if c == nil || !c.started {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	_, err := c.run(ctx, "pg_ctl", "-D", c.Dir, "-m", "fast", "-w", "stop")
	return err
}

func (c *Cluster) createDatabase(ctx context.Context) error {
	db, err := Open(ctx, c.URL("postgres"))
	if err != nil {
		return err
	}
	defer db.Close()
	var exists bool
	if err := db.Pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = 'gcrm')`).Scan(&exists); err != nil {
		return Wrap(err)
	}
	if !exists {
		if _, err := db.Pool.Exec(ctx, `CREATE DATABASE gcrm`); err != nil {
			return Wrap(err)
		}
	}
	return nil
}

func (c *Cluster) run(ctx context.Context, name string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(c.bin, name), args...)
	cmd.Dir = "/"
	if c.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	// pg_ctl start leaves the server running with our stdout unless it is detached.
	err := cmd.Run()
	return out.Bytes(), err
}

// sharedClusterRoot holds the clusters of data directories the postgres user cannot reach
// (when gcrm runs as root).
const sharedClusterRoot = "/var/lib/gcrm"

// traversable reports whether every directory from / down to dir (or its nearest existing
// ancestor) lets other users through, so the postgres user can reach dir.
func traversable(dir string) bool {
	for p := dir; ; p = filepath.Dir(p) {
		if st, err := os.Stat(p); err == nil && st.Mode().Perm()&0o001 == 0 {
			return false
		}
		if p == filepath.Dir(p) {
			return true
		}
	}
}

// postgresCredential is the user the server runs as when gcrm runs as root.
func postgresCredential() (*syscall.Credential, error) {
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, geo.Errorf(geo.EUNAVAILABLE, "running as root needs the 'postgres' user to own the private cluster; install postgresql or run gcrm as another user")
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
}

// findPostgres returns the bin directory of the newest installed PostgreSQL server.
func findPostgres() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return pgVersion(dirs[i]) > pgVersion(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		return filepath.Dir(p), nil
	}
	return "", geo.Errorf(geo.EUNAVAILABLE, "PostgreSQL is not installed: install it with `apt-get install postgresql-15 postgresql-15-postgis-3`, or set DATABASE_URL to an existing PostGIS database")
}

func pgVersion(binDir string) int {
	v, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return v
}

func checkPostGIS(bin string) error {
	out, err := exec.Command(filepath.Join(bin, "pg_config"), "--sharedir").Output()
	share := strings.TrimSpace(string(out))
	if err != nil || share == "" {
		share = filepath.Join("/usr/share/postgresql", filepath.Base(filepath.Dir(bin)))
	}
	if _, err := os.Stat(filepath.Join(share, "extension", "postgis.control")); err != nil {
		v := filepath.Base(filepath.Dir(bin))
		return geo.Errorf(geo.EUNAVAILABLE, "PostGIS is not installed for PostgreSQL %s: install it with `apt-get install postgresql-%s-postgis-3`", v, v)
	}
	return nil
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}
