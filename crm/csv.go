package crm

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"unicode/utf8"
)

// csvReader reads CSV records one at a time from a stream, in constant memory, and keeps
// going after a broken record. encoding/csv stops for good at some errors (an unclosed quote
// swallows the rest of the file); csvReader instead reports the broken record with its row
// number and starts again at the next physical line after the record began, so every later
// good row still lands.
//
// Row numbers count records, the header being row 1, so they match a spreadsheet's row
// numbers for files without line breaks inside fields.
type csvReader struct {
	r         *bufio.Reader
	pending   [][]byte // lines taken back after a broken record, to be read again
	row       int64    // number of the record last returned
	bytesRead int64    // bytes consumed from r
	maxRecord int      // longest record, in bytes, before it counts as broken
	tooLong   bool     // a line of the current record was cut at maxRecord

	raw    []byte   // raw bytes of the current record (all its lines)
	lines  []int    // offsets in raw where each physical line after the first starts
	field  []byte   // unescaped field bytes of the current record
	ends   []int    // end offset in field of each field
	record []string // fields of the current record (substrings of one string)
}

// csvRowError is a record that could not be read; the reader has resynchronised already.
type csvRowError struct {
	Row    int64
	Reason string
	Raw    []byte // the record's first line, for the rejects file
}

func (e *csvRowError) Error() string { return e.Reason }

// defaultMaxRecord bounds one record, so an unclosed quote cannot make memory grow with the
// file: past it the record is reported as broken and reading resumes on its next line.
const defaultMaxRecord = 1 << 20

// maxRecordLines bounds the lines one quoted field may span, for the same reason and so
// that a stray quote costs at most this many lines read twice.
const maxRecordLines = 200

func newCSVReader(r io.Reader) *csvReader {
	return &csvReader{r: bufio.NewReaderSize(r, 256<<10), maxRecord: defaultMaxRecord}
}

// readLine returns the next physical line including its "\n" (the last one may lack it),
// or io.EOF. The slice is valid until the next call.
func (c *csvReader) readLine() ([]byte, error) {
	if n := len(c.pending); n > 0 {
		l := c.pending[0]
		c.pending = c.pending[1:]
		return l, nil
	}
	line, err := c.r.ReadSlice('\n')
	c.bytesRead += int64(len(line))
	if errors.Is(err, bufio.ErrBufferFull) {
		// A line longer than the buffer: gather it, bounded by maxRecord.
		buf := append([]byte(nil), line...)
		for errors.Is(err, bufio.ErrBufferFull) && len(buf) <= c.maxRecord {
			line, err = c.r.ReadSlice('\n')
			c.bytesRead += int64(len(line))
			buf = append(buf, line...)
		}
		for errors.Is(err, bufio.ErrBufferFull) { // too long: skip the rest of the line
			c.tooLong = true
			line, err = c.r.ReadSlice('\n')
			c.bytesRead += int64(len(line))
		}
		line = buf
	}
	if err == io.EOF && len(line) > 0 {
		err = nil
	}
	return line, err
}

// Read returns the next record's fields (valid until the next call), a *csvRowError for a
// broken record (reading may continue), io.EOF at the end, or an I/O error.
func (c *csvReader) Read() ([]string, error) {
	for {
		line, err := c.readLine()
		if err != nil {
			return nil, err
		}
		if c.row == 0 && c.bytesRead == int64(len(line)) {
			line = bytes.TrimPrefix(line, []byte("\xef\xbb\xbf")) // UTF-8 byte order mark
		}
		if len(bytes.TrimRight(line, "\r\n")) == 0 {
			continue // blank lines are not records (as in encoding/csv)
		}
		c.row++
		if !c.tooLong && c.splitPlain(line) {
			return c.record, nil
		}
		c.raw = append(c.raw[:0], line...)
		c.lines = c.lines[:0]
		reason := c.parse()
		if c.tooLong {
			c.tooLong = false
			reason = "the row is longer than 1 MiB (a line break or quote may be missing)"
			c.lines = c.lines[:0] // its lines are not read again
			c.raw = c.raw[:min(len(c.raw), 200)]
		}
		if reason == "" {
			return c.record, nil
		}
		// Take back every line after the record's first: they are read again as new records.
		first := len(c.raw)
		if len(c.lines) > 0 {
			first = c.lines[0]
			// A fresh buffer: lines still pending may point into an older one.
			buf := append([]byte(nil), c.raw[first:]...)
			back := make([][]byte, 0, len(c.lines)+len(c.pending))
			off := 0
			for i := range c.lines {
				end := len(buf)
				if i+1 < len(c.lines) {
					end = c.lines[i+1] - first
				}
				back = append(back, buf[off:end])
				off = end
			}
			c.pending = append(back, c.pending...)
		}
		return nil, &csvRowError{Row: c.row, Reason: reason, Raw: bytes.TrimRight(c.raw[:first], "\r\n")}
	}
}

// splitPlain splits a one-line record without quotes (most records) into c.record: one
// copy of the line, the fields cut at its commas. It gives what parse gives for such a
// line (the last field loses one "\r" before the line end); false when the line has a
// quote or fails a check, for parse to read it and say why.
func (c *csvReader) splitPlain(line []byte) bool {
	if bytes.IndexByte(line, '"') >= 0 {
		return false
	}
	line = bytes.TrimSuffix(bytes.TrimSuffix(line, []byte("\n")), []byte("\r"))
	if !utf8.Valid(line) || bytes.IndexByte(line, 0) >= 0 {
		return false
	}
	s := string(line)
	c.record = c.record[:0]
	for {
		i := strings.IndexByte(s, ',')
		if i < 0 {
			c.record = append(c.record, s)
			return true
		}
		c.record = append(c.record, s[:i])
		s = s[i+1:]
	}
}

// parse splits c.raw (starting with one line, reading more lines while a quoted field is
// open) into c.record. It returns "" or the reason the record is broken.
func (c *csvReader) parse() string {
	c.field, c.ends = c.field[:0], c.ends[:0]
	pos := 0
	for {
		// Start of a field at c.raw[pos].
		if pos < len(c.raw) && c.raw[pos] == '"' {
			pos++
			for {
				i := bytes.IndexByte(c.raw[pos:], '"')
				if i < 0 {
					// The quoted field goes on past this line: read the next one.
					c.field = append(c.field, c.raw[pos:]...)
					pos = len(c.raw)
					if len(c.raw) > c.maxRecord || len(c.lines) >= maxRecordLines {
						return "a quoted field is not closed (a \" is missing): the record runs on for too many lines"
					}
					line, err := c.readLine()
					if err != nil || len(line) == 0 {
						return "a quoted field is not closed before the end of the file (a \" is missing)"
					}
					c.lines = append(c.lines, len(c.raw))
					c.raw = append(c.raw, line...)
					continue
				}
				c.field = append(c.field, c.raw[pos:pos+i]...)
				pos += i + 1
				if pos < len(c.raw) && c.raw[pos] == '"' { // "" is a quote
					c.field = append(c.field, '"')
					pos++
					continue
				}
				break
			}
			// After a closing quote: a comma, the end of the line, or the end of the file.
			switch {
			case pos == len(c.raw):
			case c.raw[pos] == ',':
			case c.raw[pos] == '\n', c.raw[pos] == '\r' && pos+1 < len(c.raw) && c.raw[pos+1] == '\n',
				c.raw[pos] == '\r' && pos+1 == len(c.raw):
			default:
				return "text follows a closing quote (a quoted field must end with \" before the comma)"
			}
		} else {
			i := bytes.IndexAny(c.raw[pos:], ",\n\"")
			end := len(c.raw)
			if i >= 0 {
				end = pos + i
			}
			if end < len(c.raw) && c.raw[end] == '"' {
				return "a quote appears inside an unquoted field (quote the whole field and double the quote: \"\")"
			}
			val := c.raw[pos:end]
			if end == len(c.raw) || c.raw[end] == '\n' {
				val = bytes.TrimSuffix(val, []byte("\r"))
			}
			c.field = append(c.field, val...)
			pos = end
		}
		c.ends = append(c.ends, len(c.field))
		if pos < len(c.raw) && c.raw[pos] == ',' {
			pos++
			continue
		}
		break
	}
	// Every field must be valid UTF-8 on its own (the fields run together can be valid when
	// one ends and the next starts inside a character). The record's other bytes are ASCII
	// quotes, commas and line ends, so checking the raw record checks each field.
	if !utf8.Valid(c.raw) {
		return "not valid UTF-8; save the file as UTF-8"
	}
	if bytes.IndexByte(c.field, 0) >= 0 {
		return "contains a NUL byte, which a database text cannot hold"
	}
	s := string(c.field)
	c.record = c.record[:0]
	start := 0
	for _, e := range c.ends {
		c.record = append(c.record, s[start:e])
		start = e
	}
	return ""
}
