package crm

import (
	"hash/maphash"
	"strings"
)

// idFilter tells whether a file's external ids may repeat: when it has never called an id
// possibly seen, the ids are all distinct and the SQL dedupe pass can be skipped. It only
// ever proves absence; the dedupe in SQL decides.
//
// Many files list their ids in order (C00000001, C00000002, … or 1, 2, … 10): while every
// id sorts after the one before, in byte order or by length then bytes, they are distinct
// with nothing stored. When that run ends, its ids go into a Bloom filter if they were few
// enough to keep; after a longer run, an id inside the run's range is called possibly seen
// (a file of two sorted parts with overlapping ranges pays a dedupe pass) and the others go
// into the filter.
//
// The Bloom filter is blocked: an id sets one bit in each of the 8 words of one 64-byte
// block, so an add touches one cache line. 16 MiB whatever the file size: with a million
// ids a false alarm (which only costs the SQL pass) has odds of about 1 in 1,000.
type idFilter struct {
	seed   maphash.Seed
	blocks [][8]uint64 // nil until the run ends

	rising       bool // every id so far sorted after the one before, in one of the orders:
	bytes, byLen bool // … in byte order; by length, then bytes
	n            int  // ids in the run
	first, last  string
	kept         []string // copies of the run's ids, while they fit in keepBytes
	keptBytes    int
	keepBytes    int
	overflow     bool   // the run outgrew keepBytes: kept is dropped
	lo, hi       string // the range of a run too long to keep (rangeByLen: in that order)
	hasRange     bool
	rangeByLen   bool
}

const idFilterBlockBits = 18 // 2^18 blocks of 64 bytes

// idFilterKeepBytes bounds the copies of a run's ids kept for the Bloom filter.
const idFilterKeepBytes = 4 << 20

// idFilterSalts spread an id's hash over the block's words (those of Parquet's split block
// Bloom filter: odd 32-bit multipliers).
var idFilterSalts = [8]uint32{0x47b6137b, 0x44974d91, 0x8824ad5b, 0xa2b7289d, 0x705495c7, 0x2df1424b, 0x9efc4947, 0x5c6bfb31}

func newIDFilter() *idFilter {
	return &idFilter{seed: maphash.MakeSeed(), rising: true, bytes: true, byLen: true, keepBytes: idFilterKeepBytes}
}

// lessByLen orders ids by length, then bytes: numbers without leading zeros in order.
func lessByLen(a, b string) bool { return len(a) < len(b) || len(a) == len(b) && a < b }

// add records id and reports whether it may have been added before.
func (f *idFilter) add(id string) bool {
	if f.rising {
		bytes := f.bytes && (f.n == 0 || f.last < id)
		byLen := f.byLen && (f.n == 0 || lessByLen(f.last, id))
		if bytes || byLen {
			f.bytes, f.byLen = bytes, byLen
			if f.n == 0 {
				f.first = id
			}
			f.n, f.last = f.n+1, id
			if !f.overflow {
				if f.keptBytes += len(id) + 16; f.keptBytes <= f.keepBytes {
					f.kept = append(f.kept, strings.Clone(id))
				} else {
					f.kept, f.overflow = nil, true
				}
			}
			return false
		}
		f.endRun()
	}
	if f.hasRange {
		in := f.lo <= id && id <= f.hi
		if f.rangeByLen {
			in = !lessByLen(id, f.lo) && !lessByLen(f.hi, id)
		}
		if in { // later repeats of id are in the range too
			return true
		}
	}
	return f.bloomAdd(id)
}

// endRun ends the run of rising ids: the ids kept go into the Bloom filter, or the range
// of a longer run is noted, in the order it rose in (by length if it did, else by bytes).
func (f *idFilter) endRun() {
	f.rising = false
	f.blocks = make([][8]uint64, 1<<idFilterBlockBits)
	if !f.overflow {
		for _, id := range f.kept {
			f.bloomAdd(id)
		}
		f.kept = nil
		return
	}
	f.lo, f.hi, f.hasRange, f.rangeByLen = f.first, f.last, true, f.byLen
}

// bloomAdd records id in the Bloom filter and reports whether all its bits were set.
func (f *idFilter) bloomAdd(id string) bool {
	h := maphash.String(f.seed, id)
	blk := &f.blocks[h>>(64-idFilterBlockBits)] // the high bits pick the block, the low 32 the bits
	x := uint32(h)
	seen := true
	for i, salt := range idFilterSalts {
		m := uint64(1) << ((x * salt) >> 26)
		if blk[i]&m == 0 {
			seen = false
			blk[i] |= m
		}
	}
	return seen
}
