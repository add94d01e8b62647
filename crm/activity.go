package crm

import (
	"context"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gcrm/gcrm/geo"
	"github.com/gcrm/gcrm/geo/postgis"
	"github.com/jackc/pgx/v5"
)

// ActivityKinds are the kinds of activity a user logs on a record.
var ActivityKinds = []string{"visit", "call", "email", "meeting"}

// MaxActivityNote is the longest note an activity keeps (characters).
const MaxActivityNote = 4000

// Activity is a visit, call, e-mail or meeting logged on a record.
type Activity struct {
	ID         int64     `json:"id"`
	CustomerID int64     `json:"customer_id"`
	Kind       string    `json:"kind"`
	OccurredAt time.Time `json:"occurred_at"`
	Owner      string    `json:"owner"` // who logged it
	Note       string    `json:"note"`
	CreatedAt  time.Time `json:"created_at"`
}

// Validate checks what a user can get wrong and returns EINVALID naming the field.
func (a *Activity) Validate() error {
	a.Kind = strings.TrimSpace(a.Kind)
	ok := false
	for _, k := range ActivityKinds {
		ok = ok || a.Kind == k
	}
	switch {
	case !ok:
		return geo.Errorf(geo.EINVALID, "kind %q is not one of %s", clipText(a.Kind), strings.Join(ActivityKinds, ", "))
	case !utf8.ValidString(a.Note) || strings.ContainsRune(a.Note, 0):
		return geo.Errorf(geo.EINVALID, "note is not valid text")
	case utf8.RuneCountInString(a.Note) > MaxActivityNote:
		return geo.Errorf(geo.EINVALID, "note is longer than %d characters", MaxActivityNote)
	case a.OccurredAt.Year() < 1900 || a.OccurredAt.After(time.Now().Add(366*24*time.Hour)):
		return geo.Errorf(geo.EINVALID, "occurred_at %s is not a plausible time (1900 up to a year from now)", a.OccurredAt.Format(time.RFC3339))
	}
	return nil
}

// clipText shortens s to at most 40 bytes for a message, on a character boundary.
func clipText(s string) string {
	if len(s) <= 40 {
		return s
	}
	i := 40
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "…"
}

// LogActivity stores a (filling its ID and CreatedAt) on the record a.CustomerID if it is in
// scope, and counts it on the record in the same transaction: the record gets a new rev, so
// the change feed (and the engine's cube) sees its new activity count. Returns the record as
// it is now, ENOTFOUND (missing or out of scope) or EINVALID.
func (s *Store) LogActivity(ctx context.Context, scope Scope, a *Activity) (*Customer, error) {
	if a.OccurredAt.IsZero() {
		a.OccurredAt = time.Now()
	}
	if err := a.Validate(); err != nil {
		return nil, err
	}
	var c *Customer
	err := s.DB.WithTx(ctx, func(tx pgx.Tx) error {
		var err error
		c, err = scanCustomer(tx.QueryRow(ctx, `SELECT `+customerColumns+` FROM customers WHERE id = $1 FOR UPDATE`, a.CustomerID))
		if err != nil || !scope.Allows(c.Owner) {
			return geo.Errorf(geo.ENOTFOUND, "customer %d not found", a.CustomerID)
		}
		if err := tx.QueryRow(ctx, `INSERT INTO activities (customer_id, kind, occurred_at, owner, note)
			VALUES ($1, $2, $3, $4, $5) RETURNING id, created_at`, a.CustomerID, a.Kind, a.OccurredAt, a.Owner, a.Note).Scan(&a.ID, &a.CreatedAt); err != nil {
			return err
		}
		// Not a new version: an activity does not make someone's pending edit stale.
		return tx.QueryRow(ctx, `UPDATE customers SET activity_count = activity_count + 1,
				rev = nextval('customer_rev'), txid = txid_current()
			WHERE id = $1 RETURNING activity_count, rev`, a.CustomerID).Scan(&c.Activities, &c.Rev)
	})
	if err != nil {
		return nil, postgis.Wrap(err)
	}
	return c, nil
}

// Activities returns the activities of the record id (newest first, at most limit, 100 by
// default and at most 1000) if the record is in scope; ENOTFOUND otherwise.
func (s *Store) Activities(ctx context.Context, scope Scope, id int64, limit int) ([]Activity, error) {
	if _, err := s.FindByID(ctx, scope, id); err != nil {
		return nil, err
	}
	if limit <= 0 {
		limit = 100
	}
	rows, err := s.DB.Pool.Query(ctx, `SELECT id, customer_id, kind, occurred_at, owner, note, created_at
		FROM activities WHERE customer_id = $1 ORDER BY occurred_at DESC, id DESC LIMIT $2`, id, min(limit, 1000))
	if err != nil {
		return nil, postgis.Wrap(err)
	}
	out := []Activity{}
	var a Activity
	_, err = pgx.ForEachRow(rows, []any{&a.ID, &a.CustomerID, &a.Kind, &a.OccurredAt, &a.Owner, &a.Note, &a.CreatedAt}, func() error {
		out = append(out, a)
		return nil
	})
	return out, postgis.Wrap(err)
}
