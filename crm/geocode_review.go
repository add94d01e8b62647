package crm

import (
	"context"
	"encoding/base64"
	"encoding/binary"

	"github.com/gcrm/gcrm/geo"
	"github.com/gcrm/gcrm/geo/geocode"
)

// ReviewFilter selects the records of the geocoding review list.
type ReviewFilter struct {
	Scope Scope
	// MaxConfidence: placed records below it are listed too (default geocode.LowConfidence);
	// records placed by hand or with given coordinates never are.
	MaxConfidence float64
	Cursor        string
	Limit         int // default 100, at most 1000
}

// GeocodeReview returns one page of the records a user should check: those without a
// location (ungeocoded, with their reason) first, then those placed with low confidence,
// and the cursor of the next page. Returns EINVALID for a malformed cursor.
func (s *Store) GeocodeReview(ctx context.Context, f ReviewFilter) ([]*Customer, string, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = 100
	}
	limit = min(limit, 1000)
	maxConf := f.MaxConfidence
	if maxConf <= 0 {
		maxConf = geocode.LowConfidence
	}
	// The order is (located, id): the cursor holds both.
	var afterLocated bool
	var afterID int64
	if f.Cursor != "" {
		b, err := base64.RawURLEncoding.DecodeString(f.Cursor)
		if err != nil || len(b) != 9 {
			return nil, "", geo.Errorf(geo.EINVALID, "cursor %q is not valid: pass the next cursor of the previous page", f.Cursor)
		}
		afterLocated, afterID = b[0] == 1, int64(binary.BigEndian.Uint64(b[1:]))
	}
	list, err := s.queryCustomers(ctx, `SELECT `+customerColumns+` FROM customers
		WHERE (geom IS NULL OR (geocode_confidence < $1 AND geocode_precision NOT IN ('manual', 'given')))
		  AND ((geom IS NOT NULL), id) > ($2, $3)
		  AND (NOT $4 OR owner = ANY($5))
		ORDER BY (geom IS NOT NULL), id LIMIT $6`,
		maxConf, afterLocated, afterID, f.Scope.Restricted, f.Scope.Owners, limit+1)
	if err != nil {
		return nil, "", err
	}
	next := ""
	if len(list) > limit {
		list = list[:limit]
		last := list[limit-1]
		var b [9]byte
		if last.Location != nil {
			b[0] = 1
		}
		binary.BigEndian.PutUint64(b[1:], uint64(last.ID))
		next = base64.RawURLEncoding.EncodeToString(b[:])
	}
	return list, next, nil
}

// PlaceManually stores a location a user chose for the customer with id (by searching an
// address or dragging its pin): precision "manual", confidence 1, source "manual", error
// cleared. version guards against concurrent changes as in Update. Returns ENOTFOUND,
// ECONFLICT or EINVALID (coordinates outside the world).
func (s *Store) PlaceManually(ctx context.Context, scope Scope, id int64, version int, lon, lat float64) (*Customer, error) {
	return s.Update(ctx, scope, id, version, func(c *Customer) error {
		if err := c.SetLocation(lon, lat); err != nil {
			return err
		}
		c.Geocode = Geocode{Precision: geocode.PrecisionManual, Confidence: 1, Source: "manual"}
		return nil
	})
}
