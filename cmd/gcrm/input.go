package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/gcrm/gcrm/geo"
)

// openInput opens the file a command reads ("-" is stdin) and returns its size in bytes
// (-1 when unknown, for progress) and a func that closes it.
func openInput(file string, stdin io.Reader) (io.Reader, int64, func(), error) {
	if file == "-" {
		return stdin, -1, func() {}, nil
	}
	f, err := os.Open(file)
	if err != nil {
		return nil, 0, nil, geo.Errorf(geo.EINVALID, "cannot open %s: %v", file, err)
	}
	size := int64(-1)
	if st, err := f.Stat(); err == nil {
		size = st.Size()
	}
	return f, size, func() { f.Close() }, nil
}

// newRejectsFile prepares the rejects CSV of an import of file: at *path, or beside the
// input when *path is empty (then *path is set). A rejects file from an earlier run would
// mislead, so it goes; the new one is created only when a row is rejected.
func newRejectsFile(file string, path *string) (*lazyFile, error) {
	if *path == "" {
		*path = rejectsPathFor(file)
	}
	if err := os.Remove(*path); err != nil && !os.IsNotExist(err) {
		return nil, geo.Errorf(geo.EINVALID, "cannot replace %s: %v", *path, err)
	}
	return &lazyFile{path: *path}, nil
}

// rejectsPathFor names the rejects file beside the input: customers.csv →
// customers.rejects.csv.
func rejectsPathFor(file string) string {
	if file == "-" {
		return "stdin.rejects.csv"
	}
	ext := filepath.Ext(file)
	if !strings.EqualFold(ext, ".csv") {
		ext = ""
	}
	return strings.TrimSuffix(file, ext) + ".rejects.csv"
}

// lazyFile creates its file on the first write, so a run without rejects leaves no file.
type lazyFile struct {
	path    string
	f       *os.File
	created bool
}

func (l *lazyFile) Write(p []byte) (int, error) {
	if l.f == nil {
		f, err := os.Create(l.path)
		if err != nil {
			return 0, err
		}
		l.f, l.created = f, true
	}
	return l.f.Write(p)
}

func (l *lazyFile) Close() error {
	if l.f == nil {
		return nil
	}
	err := l.f.Close()
	l.f = nil
	return err
}

// headerFirst writes header before the first bytes written through it.
type headerFirst struct {
	w      io.Writer
	header string
	done   bool
}

func (h *headerFirst) Write(p []byte) (int, error) {
	if !h.done {
		h.done = true
		if _, err := io.WriteString(h.w, h.header); err != nil {
			return 0, err
		}
	}
	return h.w.Write(p)
}
