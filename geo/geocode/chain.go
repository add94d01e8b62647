package geocode

import (
	"context"
	"strings"

	"github.com/gcrm/gcrm/geo"
)

// Chain tries its geocoders in order. The first answer at or above MinConfidence wins; when
// none reaches it, the best answer found (finest precision, then highest confidence) is
// returned. A provider that is unavailable is skipped, and its failure is named only when
// no other provider could answer.
type Chain struct {
	Geocoders     []Geocoder
	MinConfidence float64
}

// Name lists the providers, "chain(a,b)".
func (c *Chain) Name() string {
	names := make([]string, len(c.Geocoders))
	for i, g := range c.Geocoders {
		names[i] = g.Name()
	}
	return "chain(" + strings.Join(names, ",") + ")"
}

// Geocode returns the first good enough answer (see Chain). It returns EINVALID for an
// empty query, ENOTFOUND with every provider's reason when no provider placed the query,
// and EUNAVAILABLE when the providers that could not place it were all unreachable.
func (c *Chain) Geocode(ctx context.Context, q Query) (Result, error) {
	if q.Empty() {
		return Result{}, emptyQuery()
	}
	var best *Result
	var reasons []string
	unavailable := 0
	for _, g := range c.Geocoders {
		if err := ctx.Err(); err != nil {
			return Result{}, geo.Errorf(geo.EUNAVAILABLE, "geocoding was cancelled")
		}
		r, err := g.Geocode(ctx, q)
		if err != nil {
			code := geo.ErrorCode(err)
			if code == geo.EINVALID {
				return Result{}, err
			}
			if code == geo.EUNAVAILABLE {
				unavailable++
			}
			reasons = append(reasons, g.Name()+": "+geo.ErrorMessage(err))
			continue
		}
		if r.Confidence >= c.MinConfidence {
			return r, nil
		}
		if best == nil || better(r, *best) {
			best = &r
		}
	}
	if best != nil {
		return *best, nil
	}
	code := geo.ENOTFOUND
	if unavailable == len(c.Geocoders) && unavailable > 0 {
		code = geo.EUNAVAILABLE
	}
	if len(reasons) == 0 {
		return Result{}, geo.Errorf(code, "no geocoder is configured")
	}
	return Result{}, geo.Errorf(code, "%s", strings.Join(reasons, "; "))
}

func better(a, b Result) bool {
	if ra, rb := PrecisionRank(a.Precision), PrecisionRank(b.Precision); ra != rb {
		return ra < rb
	}
	return a.Confidence > b.Confidence
}
