package crm

import (
	"context"
	"strconv"

	"github.com/gcrm/gcrm/geo"
	"github.com/gcrm/gcrm/geo/postgis"
	"github.com/jackc/pgx/v5"
)

// RedactContact removes the fields that reach a person directly (e-mail, phone, street
// address): what a marketer's export holds for records without marketing consent.
func (c *Customer) RedactContact() {
	c.Email, c.Phone, c.Street = "", "", ""
}

// PersonalData is everything gcrm holds about one record, for a subject access request.
type PersonalData struct {
	Customer   *Customer     `json:"customer"`
	Location   []float64     `json:"location,omitempty"` // [lon, lat]
	Audit      []*AuditEntry `json:"audit"`              // every logged action on the record
	Activities []Activity    `json:"activities"`         // the activities logged on it (notes may name people), newest first
}

// PersonalData returns everything held about the customer with id. Returns ENOTFOUND.
func (s *Store) PersonalData(ctx context.Context, id int64) (*PersonalData, error) {
	c, err := s.FindByID(ctx, Scope{}, id)
	if err != nil {
		return nil, err
	}
	pd := &PersonalData{Customer: c, Audit: []*AuditEntry{}}
	if pd.Activities, err = s.Activities(ctx, Scope{}, id, 1000); err != nil {
		return nil, err
	}
	if c.Location != nil {
		pd.Location = []float64{c.Location[0], c.Location[1]}
	}
	a := NewAudit(s.DB)
	f := AuditFilter{ObjectType: "customer", ObjectID: strconv.FormatInt(id, 10), Limit: 1000}
	for {
		list, next, err := a.Find(ctx, f)
		if err != nil {
			return nil, err
		}
		pd.Audit = append(pd.Audit, list...)
		if next == "" {
			return pd, nil
		}
		f.Cursor = next
	}
}

// ErasedName is the name an erased record keeps.
const ErasedName = "(erased)"

// ErasedCellResolution is the H3 resolution an erased record's location is coarsened to
// (cells of about 0.7 km²): aggregates at that resolution and coarser stay as they were,
// while the point no longer leads to a home.
const ErasedCellResolution = 8

// Erase removes the personal fields of the customer with id — name, external id, street,
// postcode, e-mail, phone, free attributes, exact location (moved to the centre of its
// resolution-8 cell) — and keeps what aggregates need (kind, segment, status, owner,
// revenue, city, region, country). tombstone is appended to the audit log in the same
// transaction. Returns the erased record, or ENOTFOUND.
func (s *Store) Erase(ctx context.Context, id int64, tombstone *AuditEntry) (*Customer, error) {
	var c *Customer
	err := s.DB.WithTx(ctx, func(tx pgx.Tx) error {
		var err error
		c, err = scanCustomer(tx.QueryRow(ctx, `SELECT `+customerColumns+` FROM customers WHERE id = $1 FOR UPDATE`, id))
		if err != nil {
			return geo.Errorf(geo.ENOTFOUND, "customer %d not found", id)
		}
		if c.Location != nil {
			ll := geo.ParentCell(c.Cell, ErasedCellResolution).LatLng()
			if err := c.SetLocation(ll.Lng, ll.Lat); err != nil {
				return err
			}
		}
		lon, lat, cell := c.coords()
		_, err = tx.Exec(ctx, `
			UPDATE customers SET name = $2, external_id = NULL, street = '', postcode = '', email = '', phone = '',
				consent_email = false, attributes = '{}',
				geom = CASE WHEN $3::float8 IS NULL THEN NULL ELSE ST_SetSRID(ST_MakePoint($3, $4), 4326) END, h3 = $5,
				geocode_precision = CASE WHEN $3::float8 IS NULL THEN geocode_precision ELSE 'erased' END,
				version = version + 1, rev = nextval('customer_rev'), txid = txid_current(), updated_at = now()
			WHERE id = $1`, id, ErasedName, lon, lat, cell)
		if err != nil {
			return postgis.Wrap(err)
		}
		// Activity notes may name the person: they go too (kind, time and count stay).
		if _, err := tx.Exec(ctx, `UPDATE activities SET note = '' WHERE customer_id = $1`, id); err != nil {
			return postgis.Wrap(err)
		}
		tombstone.ObjectType, tombstone.ObjectID = "customer", strconv.FormatInt(id, 10)
		if tombstone.Action == "" {
			tombstone.Action = AuditPrivacyErase
		}
		return NewAudit(s.DB).RecordTx(ctx, tx, tombstone)
	})
	if err != nil {
		return nil, err
	}
	return s.FindByID(ctx, Scope{}, id)
}
