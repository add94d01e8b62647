package crm

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"strconv"
	"strings"

	"github.com/gcrm/gcrm/geo"
	"github.com/gcrm/gcrm/geo/postgis"
	"github.com/jackc/pgx/v5"
	"github.com/paulmach/orb"
)

// Store keeps customers in PostGIS.
type Store struct {
	DB *postgis.DB
}

// NewStore returns a Store on db.
func NewStore(db *postgis.DB) *Store { return &Store{DB: db} }

// Scope limits which records a caller sees. The zero Scope sees everything; with Restricted
// set, only records whose owner is one of Owners. (Territories will widen this.)
type Scope struct {
	Restricted bool
	Owners     []string
}

// Allows reports whether a record with this owner is in the scope.
func (s Scope) Allows(owner string) bool {
	if !s.Restricted {
		return true
	}
	for _, o := range s.Owners {
		if o == owner {
			return true
		}
	}
	return false
}

// Key identifies the scope in caches ("" for everything).
func (s Scope) Key() string {
	if !s.Restricted {
		return ""
	}
	return "owners:" + strings.Join(s.Owners, ",")
}

// Filter selects customers for Find.
type Filter struct {
	Scope    Scope
	Bound    *orb.Bound
	Kinds    []string
	Statuses []string
	Segments []string
	Text     string // matched against name, external id, email, city, postcode
	Located  *bool  // true: only records with a location; false: only those without (ungeocoded); nil: all
	Cursor   string // from the previous page's next cursor
	Limit    int    // default 100, at most 1000
}

const customerColumns = `id, coalesce(external_id, ''), kind, name, street, city, region, postcode, country,
	ST_X(geom), ST_Y(geom), h3, segment, status, owner, revenue::float8, email, phone, consent_email,
	attributes, geocode_precision, geocode_confidence, geocode_source, geocode_error, version, rev,
	created_at, updated_at, activity_count`

func scanCustomer(row pgx.Row) (*Customer, error) {
	var c Customer
	var lon, lat *float64
	var cell *int64
	err := row.Scan(&c.ID, &c.ExternalID, &c.Kind, &c.Name, &c.Street, &c.City, &c.Region, &c.Postcode,
		&c.Country, &lon, &lat, &cell, &c.Segment, &c.Status, &c.Owner, &c.Revenue, &c.Email, &c.Phone,
		&c.ConsentEmail, &c.Attributes, &c.Geocode.Precision, &c.Geocode.Confidence, &c.Geocode.Source,
		&c.Geocode.Error, &c.Version, &c.Rev, &c.CreatedAt, &c.UpdatedAt, &c.Activities)
	if err != nil {
		return nil, err
	}
	if lon != nil && lat != nil {
		c.Location = &orb.Point{*lon, *lat}
		c.Cell = geo.Cell(*cell)
	}
	return &c, nil
}

// queryCustomers runs a query selecting customerColumns and scans its rows.
func (s *Store) queryCustomers(ctx context.Context, sql string, args ...any) ([]*Customer, error) {
	rows, err := s.DB.Pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, postgis.Wrap(err)
	}
	list, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (*Customer, error) { return scanCustomer(r) })
	return list, postgis.Wrap(err)
}

// FindByID returns the customer with id if it is in scope; ENOTFOUND otherwise (a record
// out of scope is indistinguishable from a missing one).
func (s *Store) FindByID(ctx context.Context, scope Scope, id int64) (*Customer, error) {
	c, err := scanCustomer(s.DB.Pool.QueryRow(ctx, `SELECT `+customerColumns+` FROM customers WHERE id = $1`, id))
	if err != nil {
		if geo.ErrorCode(postgis.Wrap(err)) == geo.ENOTFOUND {
			return nil, geo.Errorf(geo.ENOTFOUND, "customer %d not found", id)
		}
		return nil, postgis.Wrap(err)
	}
	if !scope.Allows(c.Owner) {
		return nil, geo.Errorf(geo.ENOTFOUND, "customer %d not found", id)
	}
	return c, nil
}

// Find returns one page of customers matching f ordered by id, and the cursor of the next
// page ("" on the last). Returns EINVALID for a malformed cursor.
func (s *Store) Find(ctx context.Context, f Filter) ([]*Customer, string, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	if limit > 1000 {
		limit = 1000
	}
	var after int64
	if f.Cursor != "" {
		b, err := base64.RawURLEncoding.DecodeString(f.Cursor)
		if err != nil || len(b) != 8 {
			return nil, "", geo.Errorf(geo.EINVALID, "cursor %q is not valid: pass the next cursor of the previous page", f.Cursor)
		}
		after = int64(binary.BigEndian.Uint64(b))
	}
	where, args := []string{"id > $1"}, []any{after}
	arg := func(v any) string { args = append(args, v); return "$" + strconv.Itoa(len(args)) }
	if f.Scope.Restricted {
		where = append(where, "owner = ANY("+arg(f.Scope.Owners)+")")
	}
	if b := f.Bound; b != nil {
		where = append(where, "geom && ST_MakeEnvelope("+arg(b.Min[0])+", "+arg(b.Min[1])+", "+arg(b.Max[0])+", "+arg(b.Max[1])+", 4326)")
	}
	if len(f.Kinds) > 0 {
		where = append(where, "kind = ANY("+arg(f.Kinds)+")")
	}
	if len(f.Statuses) > 0 {
		where = append(where, "status = ANY("+arg(f.Statuses)+")")
	}
	if len(f.Segments) > 0 {
		where = append(where, "segment = ANY("+arg(f.Segments)+")")
	}
	if f.Located != nil {
		where = append(where, map[bool]string{true: "geom IS NOT NULL", false: "geom IS NULL"}[*f.Located])
	}
	if t := strings.TrimSpace(f.Text); t != "" {
		p := arg("%" + postgis.EscapeLike(t) + "%")
		where = append(where, "(name ILIKE "+p+" OR external_id ILIKE "+p+" OR email ILIKE "+p+" OR city ILIKE "+p+" OR postcode ILIKE "+p+")")
	}
	sql := `SELECT ` + customerColumns + ` FROM customers WHERE ` + strings.Join(where, " AND ") +
		` ORDER BY id LIMIT ` + arg(limit+1)
	list, err := s.queryCustomers(ctx, sql, args...)
	if err != nil {
		return nil, "", err
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

// Create inserts c (after Validate) and fills its id, version, rev and times.
// Returns EINVALID for bad fields and ECONFLICT for a duplicate external id.
func (s *Store) Create(ctx context.Context, c *Customer) error {
	if err := c.Validate(); err != nil {
		return err
	}
	lon, lat, cell := c.coords()
	err := s.DB.Pool.QueryRow(ctx, `
		INSERT INTO customers (external_id, kind, name, street, city, region, postcode, country, geom, h3,
			segment, status, owner, revenue, email, phone, consent_email, attributes,
			geocode_precision, geocode_confidence, geocode_source, geocode_error)
		VALUES (nullif($1, ''), $2, $3, $4, $5, $6, $7, $8,
			CASE WHEN $9::float8 IS NULL THEN NULL ELSE ST_SetSRID(ST_MakePoint($9, $10), 4326) END, $11,
			$12, $13, $14, $15, $16, $17, $18, coalesce($19, '{}'::jsonb), $20, $21, $22, $23)
		RETURNING id, version, rev, created_at, updated_at`,
		c.ExternalID, c.Kind, c.Name, c.Street, c.City, c.Region, c.Postcode, c.Country, lon, lat, cell,
		c.Segment, c.Status, c.Owner, c.Revenue, c.Email, c.Phone, c.ConsentEmail, c.Attributes,
		c.Geocode.Precision, c.Geocode.Confidence, c.Geocode.Source, c.Geocode.Error,
	).Scan(&c.ID, &c.Version, &c.Rev, &c.CreatedAt, &c.UpdatedAt)
	return postgis.Wrap(err)
}

func (c *Customer) coords() (lon, lat *float64, cell *int64) {
	if c.Location == nil {
		return nil, nil, nil
	}
	x, y, h := c.Location[0], c.Location[1], int64(c.Cell)
	return &x, &y, &h
}

// Update applies patch to the customer with id in one transaction: patch gets the current
// record and changes it; the change is stored only if version is still the current one.
// Returns ENOTFOUND (missing or out of scope), ECONFLICT (stale version) or EINVALID.
func (s *Store) Update(ctx context.Context, scope Scope, id int64, version int, patch func(*Customer) error) (*Customer, error) {
	var c *Customer
	err := s.DB.WithTx(ctx, func(tx pgx.Tx) error {
		var err error
		c, err = scanCustomer(tx.QueryRow(ctx, `SELECT `+customerColumns+` FROM customers WHERE id = $1 FOR UPDATE`, id))
		if err != nil || !scope.Allows(c.Owner) {
			return geo.Errorf(geo.ENOTFOUND, "customer %d not found", id)
		}
		if c.Version != version {
			return geo.Errorf(geo.ECONFLICT, "customer %d was changed by someone else (version %d, yours %d): reload it and apply your change again", id, c.Version, version)
		}
		if err := patch(c); err != nil {
			return err
		}
		if err := c.Validate(); err != nil {
			return err
		}
		if !scope.Allows(c.Owner) {
			return geo.Errorf(geo.EFORBIDDEN, "you cannot hand customer %d to owner %q outside your scope", id, c.Owner)
		}
		c.ID = id
		lon, lat, cell := c.coords()
		return tx.QueryRow(ctx, `
			UPDATE customers SET external_id = nullif($2, ''), kind = $3, name = $4, street = $5, city = $6,
				region = $7, postcode = $8, country = $9,
				geom = CASE WHEN $10::float8 IS NULL THEN NULL ELSE ST_SetSRID(ST_MakePoint($10, $11), 4326) END,
				h3 = $12, segment = $13, status = $14, owner = $15, revenue = $16, email = $17, phone = $18,
				consent_email = $19, attributes = coalesce($20, '{}'::jsonb), geocode_precision = $21,
				geocode_confidence = $22, geocode_source = $23, geocode_error = $24,
				version = version + 1, rev = nextval('customer_rev'), txid = txid_current(), updated_at = now()
			WHERE id = $1
			RETURNING version, rev, updated_at`,
			id, c.ExternalID, c.Kind, c.Name, c.Street, c.City, c.Region, c.Postcode, c.Country, lon, lat, cell,
			c.Segment, c.Status, c.Owner, c.Revenue, c.Email, c.Phone, c.ConsentEmail, c.Attributes,
			c.Geocode.Precision, c.Geocode.Confidence, c.Geocode.Source, c.Geocode.Error,
		).Scan(&c.Version, &c.Rev, &c.UpdatedAt)
	})
	if err != nil {
		return nil, postgis.Wrap(err)
	}
	return c, nil
}

// Delete removes the customer with id and records the deletion in the change feed; it
// returns the deletion's rev. Returns ENOTFOUND when missing or out of scope.
func (s *Store) Delete(ctx context.Context, scope Scope, id int64) (rev int64, err error) {
	err = s.DB.WithTx(ctx, func(tx pgx.Tx) error {
		var owner string
		if err := tx.QueryRow(ctx, `DELETE FROM customers WHERE id = $1 RETURNING owner`, id).Scan(&owner); err != nil || !scope.Allows(owner) {
			return geo.Errorf(geo.ENOTFOUND, "customer %d not found", id)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM activities WHERE customer_id = $1`, id); err != nil {
			return err
		}
		return tx.QueryRow(ctx, `INSERT INTO customer_deletions (id) VALUES ($1)
			ON CONFLICT (id) DO UPDATE SET rev = nextval('customer_rev'), txid = txid_current(), deleted_at = now() RETURNING rev`, id).Scan(&rev)
	})
	return rev, err
}
