package crm

import (
	"encoding/binary"
	"math"
	"strconv"
	"time"
)

// The import streams rows to COPY in PostgreSQL's binary format: every field is its length
// and its bytes, so neither side formats or parses text (numbers, hex EWKB, escapes).

// copyBinaryHeader starts a binary COPY stream: signature, flags, header extension length.
var copyBinaryHeader = []byte("PGCOPY\n\xff\r\n\x00\x00\x00\x00\x00\x00\x00\x00\x00")

// copyBinaryTrailer ends it: a tuple with field count -1.
var copyBinaryTrailer = []byte{0xff, 0xff}

func appendBinaryNull(b []byte) []byte { return append(b, 0xff, 0xff, 0xff, 0xff) }

func appendBinaryText(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

func appendBinaryInt8(b []byte, v int64) []byte {
	b = binary.BigEndian.AppendUint32(b, 8)
	return binary.BigEndian.AppendUint64(b, uint64(v))
}

func appendBinaryFloat8(b []byte, v float64) []byte {
	b = binary.BigEndian.AppendUint32(b, 8)
	return binary.BigEndian.AppendUint64(b, math.Float64bits(v))
}

func appendBinaryFloat4(b []byte, v float32) []byte {
	b = binary.BigEndian.AppendUint32(b, 4)
	return binary.BigEndian.AppendUint32(b, math.Float32bits(v))
}

func appendBinaryBool(b []byte, v bool) []byte {
	b = binary.BigEndian.AppendUint32(b, 1)
	if v {
		return append(b, 1)
	}
	return append(b, 0)
}

// appendBinaryJSONB appends JSON text as jsonb (format version 1, then the text).
func appendBinaryJSONB(b, json []byte) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(json)+1))
	return append(append(b, 1), json...)
}

// appendBinaryNumeric appends finite v as numeric: the exact digits of its shortest decimal
// form (what the text format sent), in base 10000. The server rounds them to the column's
// scale as it would have rounded the text.
func appendBinaryNumeric(b []byte, v float64) []byte {
	var buf [400]byte
	s := strconv.AppendFloat(buf[:0], v, 'f', -1, 64)
	sign := uint16(0)
	if s[0] == '-' {
		sign, s = 0x4000, s[1:]
	}
	intPart, frac := s, []byte(nil)
	for i, c := range s {
		if c == '.' {
			intPart, frac = s[:i], s[i+1:]
			break
		}
	}
	dscale := len(frac)
	// Base-10000 digits: the integer part grouped from the decimal point leftwards, the
	// fraction rightwards (padded with zeros).
	var digits [120]uint16
	n := 0
	lead := len(intPart) % 4
	if lead == 0 {
		lead = 4
	}
	for i := 0; i < len(intPart); {
		end := i + lead
		d := uint16(0)
		for ; i < end; i++ {
			d = d*10 + uint16(intPart[i]-'0')
		}
		digits[n], n, lead = d, n+1, 4
	}
	weight := n - 1
	for i := 0; i < len(frac); i += 4 {
		d := uint16(0)
		for j := i; j < i+4; j++ {
			d *= 10
			if j < len(frac) {
				d += uint16(frac[j] - '0')
			}
		}
		digits[n], n = d, n+1
	}
	first := 0
	for first < n && digits[first] == 0 {
		first, weight = first+1, weight-1
	}
	for n > first && digits[n-1] == 0 {
		n--
	}
	if first == n { // zero
		weight, sign = 0, 0
	}
	b = binary.BigEndian.AppendUint32(b, uint32(8+2*(n-first)))
	b = binary.BigEndian.AppendUint16(b, uint16(n-first))
	b = binary.BigEndian.AppendUint16(b, uint16(int16(weight)))
	b = binary.BigEndian.AppendUint16(b, sign)
	b = binary.BigEndian.AppendUint16(b, uint16(dscale))
	for _, d := range digits[first:n] {
		b = binary.BigEndian.AppendUint16(b, d)
	}
	return b
}

// pgEpochMicro is where PostgreSQL's binary timestamps count from, 2000-01-01 UTC, in Unix
// microseconds.
var pgEpochMicro = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro()

// appendBinaryTimestamptz appends t as timestamptz: microseconds since 2000-01-01 UTC (not
// t.Sub, whose Duration ends 292 years away).
func appendBinaryTimestamptz(b []byte, t time.Time) []byte {
	return appendBinaryInt8(b, t.UnixMicro()-pgEpochMicro)
}
