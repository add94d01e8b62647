package geo

import (
	"math"
	"sync"
	"sync/atomic"

	"github.com/uber/h3-go/v4"
)

// latLngToCell is H3's latLngToCell in Go: the same arithmetic in the same order as the C
// library (closest icosahedron face, gnomonic projection, hex grid rounding, one digit per
// resolution, base cell rotation), without a cgo call per point, which cost ≈ 2 µs at
// resolution 15 (most of it the C digit loop), four times the Go code's cost.
//
// Nothing of H3's tables is copied. The icosahedron's face centres and axes are derived
// once from h3-go itself (the base cell at each face's centre, and its children), and the
// base cell and rotation of a face's res-0 coordinates are learnt from h3-go the first time
// they are met: the point that meets them is computed by h3-go, and the entry is kept only
// when the Go digits, rotated, give exactly h3-go's cell. Points in a pentagon's base cell
// (the pentagons' deleted sub-sequence needs more tables) always go to h3-go.
// TestLatLngToCell compares the two on millions of random points.
func latLngToCell(lat, lng float64, res int) Cell {
	if res < 1 || res > 15 || math.IsNaN(lat) || math.IsNaN(lng) || math.IsInf(lat, 0) || math.IsInf(lng, 0) {
		return h3.LatLngToCell(h3.LatLng{Lat: lat, Lng: lng}, res)
	}
	h3FacesOnce.Do(deriveH3Faces)
	if !h3FacesOK {
		return h3.LatLngToCell(h3.LatLng{Lat: lat, Lng: lng}, res)
	}
	face, i, j, k := h3FaceIJK(lat*degsToRads, lng*degsToRads, res)

	// From the finest resolution up: each step's digit is where the cell sits in its parent.
	// The steps work on axial coordinates (a, b) = (i-k, j-k): H3's upAp7/downAp7 and the
	// differences depend on nothing else, and ijkNormalize keeps them, so the normalisations
	// the C code does at every step are left to the end (the integers are the same).
	h := uint64(1)<<59 | uint64(res)<<52 | (uint64(1)<<45 - 1) // cell mode, res, digits 7
	a, b := i-k, j-k
	for r := res - 1; r >= 0; r-- {
		la, lb := a, b
		var ca, cb int
		if (r+1)%2 == 1 { // class III child resolution
			a, b = upAp7(a, b)
			ca, cb = downAp7(a, b)
		} else {
			a, b = upAp7r(a, b)
			ca, cb = downAp7r(a, b)
		}
		h = setDigit(h, r+1, axialDigit(la-ca, lb-cb))
	}
	i, j, k = ijkNormalize(a, b, 0)
	if i > 2 || j > 2 || k > 2 {
		return h3.LatLngToCell(h3.LatLng{Lat: lat, Lng: lng}, res)
	}
	slot := &h3BaseCells[face][i][j][k]
	if e := slot.Load(); e&baseKnown != 0 && e&basePentagon == 0 {
		h |= uint64(e&0x7f) << 45
		if rots := (e >> 8) & 7; rots > 0 {
			h = rotateDigits(h, res, &rot60ccwN[rots])
		}
		return Cell(h)
	}
	c := h3.LatLngToCell(h3.LatLng{Lat: lat, Lng: lng}, res)
	learnBaseCell(slot, h, c, res)
	return c
}

const (
	degsToRads   = math.Pi / 180
	h3Epsilon    = 0.0000000000000001
	h3Ap7Rot     = 0.333473172251832115336090755351601070065900389 // atan(√3/5): class III grids turn by this
	h3Res0U      = 0.38196601125010500003                          // a res-0 unit in gnomonic distance, as H3 defines it
	h3Sqrt7      = 2.6457513110645905905016157536392604257102
	h3Sin60      = 0.8660254037844386467637231707529361834714
	h3TwoPi      = 2 * math.Pi
	baseKnown    = 1 << 31
	basePentagon = 1 << 30
)

// h3Face is one icosahedron face: its centre and the azimuth of its class II i axis.
type h3Face struct {
	lat, lng, sinLat, cosLat float64
	x, y, z                  float64 // the centre on the unit sphere
	azI                      float64
}

var (
	h3Faces     [20]h3Face
	h3FacesOnce sync.Once
	h3FacesOK   bool
	// h3BaseCells[face][i][j][k] (res-0 coordinates on a face): base cell | rotations<<8 |
	// baseKnown, or basePentagon; 0 while not learnt.
	h3BaseCells [20][3][3][3]atomic.Uint32
)

// deriveH3Faces finds each face's centre (the base cell lying on that face alone is centred
// on it) and the direction of its i axis (from the centre towards the child in direction I
// of that base cell, which sits on the class III i axis, turned back by the aperture-7
// rotation, then refined by the res-0 neighbour on the class II i axis, farther out).
func deriveH3Faces() {
	// The pentagons sit on the icosahedron's vertices: a face's centre is nearest the sum of
	// its three.
	var sum [20][3]float64
	for _, c := range h3.Pentagons(0) {
		ll := c.LatLng()
		lat, lng := ll.Lat*degsToRads, ll.Lng*degsToRads
		for _, f := range c.IcosahedronFaces() {
			sum[f][0] += math.Cos(lng) * math.Cos(lat)
			sum[f][1] += math.Sin(lng) * math.Cos(lat)
			sum[f][2] += math.Sin(lat)
		}
	}
	var centre [20]h3.Cell
	best := [20]float64{}
	for _, c := range h3.Res0Cells() {
		faces := c.IcosahedronFaces()
		if len(faces) != 1 {
			continue
		}
		ll, s := c.LatLng(), sum[faces[0]]
		lat, lng := ll.Lat*degsToRads, ll.Lng*degsToRads
		dot := (s[0]*math.Cos(lng)*math.Cos(lat) + s[1]*math.Sin(lng)*math.Cos(lat) + s[2]*math.Sin(lat)) / math.Sqrt(s[0]*s[0]+s[1]*s[1]+s[2]*s[2])
		if dot > best[faces[0]] {
			centre[faces[0]], best[faces[0]] = c, dot
		}
	}
	found := 0
	for face, c := range centre {
		if best[face] < 1-1e-12 { // not on the centre
			continue
		}
		f := &h3Faces[face]
		ll := c.LatLng()
		f.lat, f.lng = ll.Lat*degsToRads, ll.Lng*degsToRads
		f.sinLat, f.cosLat = math.Sin(f.lat), math.Cos(f.lat)
		f.x, f.y, f.z = math.Cos(f.lng)*f.cosLat, math.Sin(f.lng)*f.cosLat, f.sinLat
		az := math.NaN()
		for _, ch := range c.Children(1) {
			if digit(uint64(ch), 1) == 4 {
				p := ch.LatLng()
				az = posAngle(f.azimuth(p.Lat*degsToRads, p.Lng*degsToRads) + h3Ap7Rot)
			}
		}
		for _, n := range c.GridDisk(1) {
			p := n.LatLng()
			if a := posAngle(f.azimuth(p.Lat*degsToRads, p.Lng*degsToRads)); n != c && math.Abs(math.Remainder(a-az, h3TwoPi)) < 0.01 {
				az = a
			}
		}
		f.azI = az
		found++
	}
	h3FacesOK = found == 20
}

// azimuth is H3's _geoAzimuthRads from the face centre to (lat, lng) in radians.
func (f *h3Face) azimuth(lat, lng float64) float64 {
	return f.azimuthSC(math.Sin(lat), math.Cos(lat), lng)
}

func (f *h3Face) azimuthSC(sinLat, cosLat, lng float64) float64 {
	// float64() conversions keep the compiler from fusing multiply-adds (C does not fuse).
	return math.Atan2(float64(cosLat*math.Sin(lng-f.lng)),
		float64(f.cosLat*sinLat)-float64(float64(f.sinLat*cosLat)*math.Cos(lng-f.lng)))
}

// h3FaceIJK is H3's _geoToFaceIjk: the face closest to the point and the point's hex
// coordinates on it at res.
func h3FaceIJK(lat, lng float64, res int) (face, i, j, k int) {
	sinLat, cosLat := math.Sin(lat), math.Cos(lat)
	x, y, z := float64(math.Cos(lng)*cosLat), float64(math.Sin(lng)*cosLat), sinLat
	sqd := 5.0
	for f := range h3Faces {
		fc := &h3Faces[f]
		dx, dy, dz := fc.x-x, fc.y-y, fc.z-z
		if d := float64(float64(dx*dx)+float64(dy*dy)) + float64(dz*dz); d < sqd {
			face, sqd = f, d
		}
	}
	r := math.Acos(1 - sqd/2)
	if r < h3Epsilon {
		i, j, k = hex2dToIJK(0, 0)
		return face, i, j, k
	}
	fc := &h3Faces[face]
	theta := posAngle(fc.azI - posAngle(fc.azimuthSC(sinLat, cosLat, lng)))
	if res%2 == 1 {
		theta = posAngle(theta - h3Ap7Rot)
	}
	r = math.Tan(r)
	r /= h3Res0U
	for range res {
		r *= h3Sqrt7
	}
	i, j, k = hex2dToIJK(float64(r*math.Cos(theta)), float64(r*math.Sin(theta)))
	return face, i, j, k
}

func posAngle(rads float64) float64 {
	tmp := rads
	if rads < 0 {
		tmp = rads + h3TwoPi
	}
	if rads >= h3TwoPi {
		tmp -= h3TwoPi
	}
	return tmp
}

// hex2dToIJK is H3's _hex2dToCoordIJK: the hex containing the point (x, y) of a hex grid.
func hex2dToIJK(x, y float64) (i, j, k int) {
	a1, a2 := math.Abs(x), math.Abs(y)
	x2 := a2 / h3Sin60
	x1 := a1 + x2/2
	m1, m2 := int(x1), int(x2)
	r1, r2 := x1-float64(m1), x2-float64(m2)
	switch {
	case r1 < 0.5 && r1 < 1.0/3:
		i, j = m1, m2
		if r2 >= (1+r1)/2 {
			j = m2 + 1
		}
	case r1 < 0.5:
		j = m2
		if r2 >= 1-r1 {
			j = m2 + 1
		}
		i = m1
		if 1-r1 <= r2 && r2 < 2*r1 {
			i = m1 + 1
		}
	case r1 < 2.0/3:
		j = m2
		if r2 >= 1-r1 {
			j = m2 + 1
		}
		i = m1 + 1
		if 2*r1-1 < r2 && r2 < 1-r1 {
			i = m1
		}
	default:
		i, j = m1+1, m2
		if r2 >= r1/2 {
			j = m2 + 1
		}
	}
	// fold across the axes if necessary
	if x < 0 {
		if j%2 == 0 {
			i -= 2 * (i - j/2)
		} else {
			i -= 2*(i-(j+1)/2) + 1
		}
	}
	if y < 0 {
		i -= (2*j + 1) / 2
		j = -j
	}
	return ijkNormalize(i, j, 0)
}

func ijkNormalize(i, j, k int) (int, int, int) {
	if i < 0 {
		j, k, i = j-i, k-i, 0
	}
	if j < 0 {
		i, k, j = i-j, k-j, 0
	}
	if k < 0 {
		i, j, k = i-k, j-k, 0
	}
	m := min(i, j, k)
	return i - m, j - m, k - m
}

// round7 is lround(n / 7.0): n/7 is never halfway between integers.
func round7(n int) int {
	if n >= 0 {
		return (n + 3) / 7
	}
	return -((-n + 3) / 7)
}

// upAp7 is the parent (class II) of a class III cell; upAp7r of a class II cell. Both take
// and return axial coordinates (i-k, j-k): H3's _upAp7 reads nothing else of its input.
func upAp7(a, b int) (int, int) { return round7(3*a - b), round7(a + 2*b) }

func upAp7r(a, b int) (int, int) { return round7(2*a + b), round7(3*b - a) }

// downAp7 is the centre child (class III) of a class II cell; downAp7r of a class III cell;
// in axial coordinates. The res r unit vectors in res r+1 are (3,0,1), (1,3,0), (0,1,3),
// and for downAp7r (3,1,0), (0,3,1), (1,0,3): (i, j, 0) goes to (3i+j, 3j, i), axial
// (2i+j, 3j-i), and for downAp7r to (3i, i+3j, j), axial (3i-j, i+2j).
func downAp7(a, b int) (int, int) { return 2*a + b, 3*b - a }

func downAp7r(a, b int) (int, int) { return 3*a - b, a + 2*b }

func digit(h uint64, r int) uint64 { return h >> ((15 - r) * 3) & 7 }

func setDigit(h uint64, r int, d uint64) uint64 {
	s := (15 - r) * 3
	return h&^(7<<s) | d<<s
}

// rot60ccw maps a digit to the digit of its unit vector turned 60° counter-clockwise (the
// i, j and k axes go to ij, jk and ik).
var rot60ccw = func() (m [8]uint64) {
	for d := range 7 {
		i, j, k := d>>2&1, d>>1&1, d&1
		ri, rj, rk := ijkNormalize(i+k, i+j, j+k)
		m[d] = uint64(ri*4 + rj*2 + rk)
	}
	m[7] = 7
	return m
}()

// rot60ccwN[n] maps a digit to the digit turned n times 60° counter-clockwise.
var rot60ccwN = func() (m [6][8]uint64) {
	for d := range 8 {
		m[0][d] = uint64(d)
		for n := 1; n < 6; n++ {
			m[n][d] = rot60ccw[m[n-1][d]]
		}
	}
	return m
}()

func rotate60ccw(h uint64, res int) uint64 { return rotateDigits(h, res, &rot60ccw) }

// rotateDigits maps each of h's digits 1..res through rot.
func rotateDigits(h uint64, res int, rot *[8]uint64) uint64 {
	for r := 1; r <= res; r++ {
		h = setDigit(h, r, rot[digit(h, r)])
	}
	return h
}

// axialDigits[a+1][b+1] is the digit of the unit vector with axial coordinates (a, b) (its
// normalised i, j, k bits), or 8 for (1,-1) and (-1,1), which are not unit vectors.
var axialDigits = func() (m [3][3]uint64) {
	for a := -1; a <= 1; a++ {
		for b := -1; b <= 1; b++ {
			i, j, k := ijkNormalize(a, b, 0)
			m[a+1][b+1] = uint64(i*4 + j*2 + k)
		}
	}
	return m
}()

// axialDigit is the digit of the difference (a, b) between a cell and its parent's centre
// child: i*4 + j*2 + k of its normalised coordinates, as the C code takes it.
func axialDigit(a, b int) uint64 {
	if uint(a+1) <= 2 && uint(b+1) <= 2 {
		if d := axialDigits[a+1][b+1]; d < 8 {
			return d
		}
	}
	i, j, k := ijkNormalize(a, b, 0)
	return uint64(i*4 + j*2 + k)
}

// learnBaseCell keeps the base cell and rotation of a face's res-0 coordinates once the Go
// digits h (base cell unset), turned by exactly one number of 60° steps, equal h3-go's cell c.
func learnBaseCell(slot *atomic.Uint32, h uint64, c Cell, res int) {
	if slot.Load() != 0 || c == 0 {
		return
	}
	bc := uint64(c) >> 45 & 0x7f
	if h3.Cell(uint64(1)<<59 | bc<<45 | (uint64(1)<<45 - 1)).IsPentagon() { // the res-0 cell
		slot.CompareAndSwap(0, basePentagon)
		return
	}
	h |= bc << 45
	rots, n := 0, 0
	for r := range 6 {
		if h == uint64(c) {
			rots, n = r, n+1
		}
		h = rotate60ccw(h, res)
	}
	if n == 1 {
		slot.CompareAndSwap(0, baseKnown|uint32(rots)<<8|uint32(bc))
	}
}
