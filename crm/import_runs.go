package crm

import (
	"context"
	"io"
	"time"

	"github.com/gcrm/gcrm/geo"
	"github.com/gcrm/gcrm/geo/postgis"
	"github.com/jackc/pgx/v5"
)

// ImportRun is one import started through the API, kept with its rejects file.
type ImportRun struct {
	ID         int64      `json:"id"`
	Kind       string     `json:"kind"`
	Filename   string     `json:"filename,omitempty"`
	CreatedBy  string     `json:"created_by,omitempty"`
	Status     string     `json:"status"` // running, done, failed
	Rows       int64      `json:"rows"`
	Inserted   int64      `json:"inserted"`
	Updated    int64      `json:"updated"`
	Unchanged  int64      `json:"unchanged"`
	Rejected   int64      `json:"rejected"`
	MaxRev     int64      `json:"-"`
	Error      string     `json:"error,omitempty"`
	StartedAt  time.Time  `json:"started_at"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
}

// CreateImportRun records the start of an import of kind (status running) and fills run's
// id and start time.
func (s *Store) CreateImportRun(ctx context.Context, run *ImportRun) error {
	run.Status = "running"
	err := s.DB.Pool.QueryRow(ctx, `INSERT INTO imports (kind, filename, created_by) VALUES ($1, $2, $3)
		RETURNING id, started_at`, run.Kind, run.Filename, run.CreatedBy).Scan(&run.ID, &run.StartedAt)
	return postgis.Wrap(err)
}

// FinishImportRun records how the import of run ended: done with res, or failed with err.
func (s *Store) FinishImportRun(ctx context.Context, run *ImportRun, res *ImportResult, err error) error {
	run.Status = "done"
	if err != nil {
		run.Status, run.Error = "failed", geo.ErrorMessage(err)
	}
	if res != nil {
		run.Rows, run.Inserted, run.Updated, run.Unchanged, run.Rejected, run.MaxRev =
			res.Rows, res.Inserted, res.Updated, res.Unchanged, res.Rejected, res.MaxRev
	}
	var fin time.Time
	e := s.DB.Pool.QueryRow(ctx, `UPDATE imports SET status = $2, error = $3, rows = $4, inserted = $5,
			updated = $6, unchanged = $7, rejected = $8, max_rev = $9, finished_at = now()
		WHERE id = $1 RETURNING finished_at`, run.ID, run.Status, run.Error, run.Rows, run.Inserted,
		run.Updated, run.Unchanged, run.Rejected, run.MaxRev).Scan(&fin)
	run.FinishedAt = &fin
	return postgis.Wrap(e)
}

// FindImportRun returns the import run with id; ENOTFOUND when there is none.
func (s *Store) FindImportRun(ctx context.Context, id int64) (*ImportRun, error) {
	var r ImportRun
	err := s.DB.Pool.QueryRow(ctx, `SELECT id, kind, filename, created_by, status, rows, inserted, updated,
			unchanged, rejected, max_rev, error, started_at, finished_at FROM imports WHERE id = $1`, id).Scan(
		&r.ID, &r.Kind, &r.Filename, &r.CreatedBy, &r.Status, &r.Rows, &r.Inserted, &r.Updated,
		&r.Unchanged, &r.Rejected, &r.MaxRev, &r.Error, &r.StartedAt, &r.FinishedAt)
	if err != nil {
		if geo.ErrorCode(postgis.Wrap(err)) == geo.ENOTFOUND {
			return nil, geo.Errorf(geo.ENOTFOUND, "import %d not found", id)
		}
		return nil, postgis.Wrap(err)
	}
	return &r, nil
}

// importChunk is the size of the pieces a rejects file is stored in.
const importChunk = 1 << 20

// ImportRejectsWriter returns a writer that stores a rejects file for the run with id, in
// chunks (constant memory). Close stores the last chunk.
func (s *Store) ImportRejectsWriter(ctx context.Context, id int64) io.WriteCloser {
	return &rejectsWriter{ctx: ctx, s: s, id: id}
}

type rejectsWriter struct {
	ctx context.Context
	s   *Store
	id  int64
	seq int
	buf []byte
}

func (w *rejectsWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		k := min(importChunk-len(w.buf), len(p))
		w.buf = append(w.buf, p[:k]...)
		p = p[k:]
		if len(w.buf) == importChunk {
			if err := w.flush(); err != nil {
				return 0, err
			}
		}
	}
	return n, nil
}

func (w *rejectsWriter) flush() error {
	if len(w.buf) == 0 {
		return nil
	}
	w.seq++
	_, err := w.s.DB.Pool.Exec(w.ctx, `INSERT INTO import_rejects (import_id, seq, data) VALUES ($1, $2, $3)`, w.id, w.seq, w.buf)
	w.buf = w.buf[:0]
	return postgis.Wrap(err)
}

func (w *rejectsWriter) Close() error { return w.flush() }

// WriteImportRejects copies the stored rejects file of the run with id to w, chunk by chunk.
// It writes nothing when the run had no rejects.
func (s *Store) WriteImportRejects(ctx context.Context, id int64, w io.Writer) error {
	for seq := 1; ; seq++ {
		var data []byte
		err := s.DB.Pool.QueryRow(ctx, `SELECT data FROM import_rejects WHERE import_id = $1 AND seq = $2`, id, seq).Scan(&data)
		if err == pgx.ErrNoRows {
			return nil
		}
		if err != nil {
			return postgis.Wrap(err)
		}
		if _, err := w.Write(data); err != nil {
			return err
		}
	}
}
