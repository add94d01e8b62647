package tiles

import "math/bits"

// encoder writes one MVT layer of point features by hand (protobuf wire format, spec 2.1):
// features go to feat as they come; keys and values are collected and deduplicated, and
// finish assembles the tile. It is reused between tiles (see Customers.Render).
type encoder struct {
	feat   []byte
	out    []byte
	tags   []uint32
	keys   []string
	values [][]byte // encoded Value messages
	valbuf []byte   // backing store of values

	strIdx  map[string]uint32
	uintIdx map[uint64]uint32
	trueIdx int32
	n       int // features
}

func newEncoder() *encoder {
	return &encoder{strIdx: map[string]uint32{}, uintIdx: map[uint64]uint32{}}
}

func (e *encoder) reset(keys []string) {
	e.feat, e.out, e.values, e.valbuf = e.feat[:0], e.out[:0], e.values[:0], e.valbuf[:0]
	e.keys = keys
	clear(e.strIdx)
	clear(e.uintIdx)
	e.trueIdx = -1
	e.n = 0
}

func appendVarint(b []byte, v uint64) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

func varintSize(v uint64) int { return (bits.Len64(v|1) + 6) / 7 }

func zigzag(v int32) uint32 { return uint32(v<<1) ^ uint32(v>>31) }

func (e *encoder) addValue(tag byte, payload func([]byte) []byte) uint32 {
	start := len(e.valbuf)
	e.valbuf = payload(append(e.valbuf, tag))
	e.values = append(e.values, e.valbuf[start:len(e.valbuf):len(e.valbuf)])
	return uint32(len(e.values) - 1)
}

// str returns the value index of a string, adding it once.
func (e *encoder) str(s string) uint32 {
	if i, ok := e.strIdx[s]; ok {
		return i
	}
	i := e.addValue(0x0A, func(b []byte) []byte { return append(appendVarint(b, uint64(len(s))), s...) })
	e.strIdx[s] = i
	return i
}

// uint returns the value index of an unsigned integer, deduplicated when dedup is set
// (ids are unique per tile, so they skip the map).
func (e *encoder) uint(v uint64, dedup bool) uint32 {
	if dedup {
		if i, ok := e.uintIdx[v]; ok {
			return i
		}
	}
	i := e.addValue(0x28, func(b []byte) []byte { return appendVarint(b, v) })
	if dedup {
		e.uintIdx[v] = i
	}
	return i
}

func (e *encoder) boolTrue() uint32 {
	if e.trueIdx < 0 {
		e.trueIdx = int32(e.addValue(0x38, func(b []byte) []byte { return append(b, 1) }))
	}
	return uint32(e.trueIdx)
}

// point appends a point feature at tile coordinates x, y with an id and tags (key index,
// value index pairs).
func (e *encoder) point(id uint64, x, y int32, tags []uint32) {
	zx, zy := zigzag(x), zigzag(y)
	geomLen := 1 + varintSize(uint64(zx)) + varintSize(uint64(zy))
	tagLen := 0
	for _, t := range tags {
		tagLen += varintSize(uint64(t))
	}
	size := 1 + varintSize(id) + 1 + varintSize(uint64(tagLen)) + tagLen + 2 + 1 + varintSize(uint64(geomLen)) + geomLen
	b := append(e.feat, 0x12)
	b = appendVarint(b, uint64(size))
	b = append(b, 0x08)
	b = appendVarint(b, id)
	b = append(b, 0x12)
	b = appendVarint(b, uint64(tagLen))
	for _, t := range tags {
		b = appendVarint(b, uint64(t))
	}
	b = append(b, 0x18, 0x01, 0x22)
	b = appendVarint(b, uint64(geomLen))
	b = append(b, 0x09) // MoveTo, count 1
	b = appendVarint(b, uint64(zx))
	b = appendVarint(b, uint64(zy))
	e.feat = b
	e.n++
}

// finish returns the encoded tile (one layer), or nil when it has no features. The bytes
// belong to the encoder until its next reset.
func (e *encoder) finish(name string, extent uint32) []byte {
	if e.n == 0 {
		return nil
	}
	size := 2 + 1 + varintSize(uint64(len(name))) + len(name) + 1 + varintSize(uint64(extent))
	for _, k := range e.keys {
		size += 1 + varintSize(uint64(len(k))) + len(k)
	}
	for _, v := range e.values {
		size += 1 + varintSize(uint64(len(v))) + len(v)
	}
	size += len(e.feat)
	b := append(e.out, 0x1A)
	b = appendVarint(b, uint64(size))
	b = append(b, 0x78, 0x02, 0x0A)
	b = appendVarint(b, uint64(len(name)))
	b = append(b, name...)
	b = append(b, 0x28)
	b = appendVarint(b, uint64(extent))
	for _, k := range e.keys {
		b = append(b, 0x1A)
		b = appendVarint(b, uint64(len(k)))
		b = append(b, k...)
	}
	for _, v := range e.values {
		b = append(b, 0x22)
		b = appendVarint(b, uint64(len(v)))
		b = append(b, v...)
	}
	b = append(b, e.feat...)
	e.out = b
	return b
}
