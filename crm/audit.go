package crm

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"strconv"
	"strings"
	"time"

	"github.com/gcrm/gcrm/geo"
	"github.com/gcrm/gcrm/geo/postgis"
	"github.com/jackc/pgx/v5"
)

// Audit actions with a fixed meaning. Writes through the API are recorded as
// "<object>.<create|update|delete>" or "<METHOD> <route>" for routes without a name.
const (
	AuditLogin        = "login"
	AuditLoginFailed  = "login.failed"
	AuditLogout       = "logout"
	AuditTokenCreate  = "token.create"
	AuditTokenRevoke  = "token.revoke"
	AuditExport       = "export"
	AuditUserCreate   = "user.create"
	AuditUserUpdate   = "user.update"
	AuditPrivacyView  = "privacy.export"
	AuditPrivacyErase = "privacy.erase"
	AuditDenied       = "access.denied" // a signed-in caller refused by the policy (role, CSRF)
)

// AuditEntry is one line of the append-only audit log.
type AuditEntry struct {
	ID         int64          `json:"id"`
	At         time.Time      `json:"at"`
	Actor      string         `json:"actor"`
	ActorRole  string         `json:"actor_role,omitempty"`
	Action     string         `json:"action"`
	ObjectType string         `json:"object_type,omitempty"`
	ObjectID   string         `json:"object_id,omitempty"`
	Address    string         `json:"address,omitempty"`
	RequestID  string         `json:"request_id,omitempty"`
	Details    map[string]any `json:"details,omitempty"`
}

// Audit appends to and reads the audit log. The table refuses UPDATE and DELETE.
type Audit struct {
	DB *postgis.DB
}

// NewAudit returns the audit log on db.
func NewAudit(db *postgis.DB) *Audit { return &Audit{DB: db} }

// Record appends e and fills its id and time.
func (a *Audit) Record(ctx context.Context, e *AuditEntry) error {
	return a.record(ctx, a.DB.Pool, e)
}

// RecordTx appends e inside tx, so the entry commits or rolls back with the change it
// describes.
func (a *Audit) RecordTx(ctx context.Context, tx pgx.Tx, e *AuditEntry) error {
	return a.record(ctx, tx, e)
}

type queryRower interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

func (a *Audit) record(ctx context.Context, q queryRower, e *AuditEntry) error {
	details := e.Details
	if details == nil {
		details = map[string]any{}
	}
	err := q.QueryRow(ctx, `INSERT INTO audit_log (actor, actor_role, action, object_type, object_id, address, request_id, details)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id, at`,
		e.Actor, e.ActorRole, e.Action, e.ObjectType, e.ObjectID, e.Address, e.RequestID, details).Scan(&e.ID, &e.At)
	return postgis.Wrap(err)
}

// AuditFilter selects audit entries; zero fields match everything.
type AuditFilter struct {
	Actor      string
	Action     string // exact, or a prefix ending in "." or "*" ("customer.", "token.*")
	ObjectType string
	ObjectID   string
	Since      time.Time
	Until      time.Time
	Cursor     string
	Limit      int // default 100, at most 1000
}

// Find returns one page of entries matching f, newest first, and the next page's cursor.
// Returns EINVALID for a malformed cursor.
func (a *Audit) Find(ctx context.Context, f AuditFilter) ([]*AuditEntry, string, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	if limit > 1000 {
		limit = 1000
	}
	var where []string
	var args []any
	arg := func(v any) string { args = append(args, v); return "$" + strconv.Itoa(len(args)) }
	if f.Cursor != "" {
		b, err := base64.RawURLEncoding.DecodeString(f.Cursor)
		if err != nil || len(b) != 8 {
			return nil, "", geo.Errorf(geo.EINVALID, "cursor %q is not valid: pass the next cursor of the previous page", f.Cursor)
		}
		where = append(where, "id < "+arg(int64(binary.BigEndian.Uint64(b))))
	}
	if f.Actor != "" {
		where = append(where, "actor = "+arg(NormalizeEmail(f.Actor)))
	}
	if act := f.Action; act != "" {
		if p, ok := strings.CutSuffix(act, "*"); ok {
			where = append(where, "starts_with(action, "+arg(p)+")")
		} else if strings.HasSuffix(act, ".") {
			where = append(where, "starts_with(action, "+arg(act)+")")
		} else {
			where = append(where, "action = "+arg(act))
		}
	}
	if f.ObjectType != "" {
		where = append(where, "object_type = "+arg(f.ObjectType))
	}
	if f.ObjectID != "" {
		where = append(where, "object_id = "+arg(f.ObjectID))
	}
	if !f.Since.IsZero() {
		where = append(where, "at >= "+arg(f.Since))
	}
	if !f.Until.IsZero() {
		where = append(where, "at < "+arg(f.Until))
	}
	sql := `SELECT id, at, actor, actor_role, action, object_type, object_id, address, request_id, details FROM audit_log`
	if len(where) > 0 {
		sql += ` WHERE ` + strings.Join(where, " AND ")
	}
	sql += ` ORDER BY id DESC LIMIT ` + arg(limit+1)
	rows, err := a.DB.Pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, "", postgis.Wrap(err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*AuditEntry, error) {
		var e AuditEntry
		err := r.Scan(&e.ID, &e.At, &e.Actor, &e.ActorRole, &e.Action, &e.ObjectType, &e.ObjectID, &e.Address, &e.RequestID, &e.Details)
		return &e, err
	})
	if err != nil {
		return nil, "", postgis.Wrap(err)
	}
	next := ""
	if len(list) > limit {
		list = list[:limit]
		var b [8]byte
		binary.BigEndian.PutUint64(b[:], uint64(list[limit-1].ID))
		next = base64.RawURLEncoding.EncodeToString(b[:])
	}
	return list, next, nil
}
