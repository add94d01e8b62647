package web

import (
	"fmt"
	"strings"
	"testing"
)

// A rejectList keeps the first rejects whole and no more than maxRejectBytes of them,
// however many the importer writes.
func TestRejectList_Bounded(t *testing.T) {
	l := newRejectList()
	reason := strings.Repeat("x", 300)
	for row := 2; row < 20_000; row++ {
		_ = l.w.Write([]string{fmt.Sprint(row), fmt.Sprintf("row %d: %s, or \"y\"", row, reason)})
	}
	l.w.Flush()
	if l.buf.Len() > maxRejectBytes {
		t.Fatalf("kept %d bytes", l.buf.Len())
	}
	got := l.first()
	if len(got) != maxRejectsShown || got[0].Row != 2 || got[99].Row != 101 || got[99].Reason != fmt.Sprintf("row 101: %s, or \"y\"", reason) {
		t.Fatalf("%d rejects, first %+v", len(got), got[0])
	}

	// Long reasons fill the kept bytes before maxRejectsShown: the record cut at the end is
	// not shown.
	l = newRejectList()
	for row := 2; row < 80; row++ {
		_ = l.w.Write([]string{fmt.Sprint(row), strings.Repeat("z", 20_000)})
	}
	got = l.first()
	for _, r := range got {
		if len(r.Reason) != 20_000 {
			t.Fatalf("row %d: a reason of %d bytes", r.Row, len(r.Reason))
		}
	}
	if want := maxRejectBytes/20_007 - 1; len(got) < want || len(got) > want+1 {
		t.Fatalf("%d rejects, want %d", len(got), want)
	}
}
