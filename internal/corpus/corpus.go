// Package corpus reads documents from BEIR-style JSON Lines streams:
// one JSON object per line with an id, an optional title, a text and optional
// metadata. Field names are options, so other JSONL layouts read too.
//
//	r := corpus.NewReader(f, corpus.Fields{})
//	for {
//		doc, err := r.Next()
//		if err == io.EOF { break }
//		if err != nil { return err } // names the line number
//		use(doc)
//	}
//
// Lines longer than MaxLineBytes, lines that are not JSON objects, and
// documents without an id are errors that name the line; blank lines are
// skipped. Invalid UTF-8 inside strings is replaced (U+FFFD) by encoding/json.
package corpus

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// MaxLineBytes bounds one JSONL line (64 MiB).
const MaxLineBytes = 64 << 20

// ErrSyntax reports a line that is not a usable JSON document.
var ErrSyntax = errors.New("corpus: bad line")

// Doc is one document.
type Doc struct {
	ID       string          `json:"_id"`
	Title    string          `json:"title,omitempty"`
	Text     string          `json:"text"`
	Metadata json.RawMessage `json:"metadata,omitempty"`
	Line     int             `json:"-"` // 1-based line number in the input
}

// Body returns the text to encode or index: title and text joined by a
// blank line, or whichever is non-empty.
func (d *Doc) Body() string { return Body(d.Title, d.Text) }

// Body joins a title and a text as twin encodes and indexes them: with a
// blank line between, or whichever is non-empty.
func Body(title, text string) string {
	switch {
	case title == "":
		return text
	case text == "":
		return title
	}
	return title + "\n\n" + text
}

// Fields names the JSON fields to read. The zero value reads BEIR's
// "_id", "title", "text" and "metadata".
type Fields struct {
	ID, Title, Text, Metadata string
	// AutoID gives documents without an id field their line number as id
	// instead of failing (useful for plain {"text": ...} files).
	AutoID bool
}

func (f Fields) withDefaults() Fields {
	if f.ID == "" {
		f.ID = "_id"
	}
	if f.Title == "" {
		f.Title = "title"
	}
	if f.Text == "" {
		f.Text = "text"
	}
	if f.Metadata == "" {
		f.Metadata = "metadata"
	}
	return f
}

// Reader streams documents. Not safe for concurrent use.
type Reader struct {
	sc     *bufio.Scanner
	fields Fields
	line   int
}

// NewReader reads JSONL from r.
func NewReader(r io.Reader, fields Fields) *Reader {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 1<<20), MaxLineBytes)
	return &Reader{sc: sc, fields: fields.withDefaults()}
}

// Line returns the number of the last line read.
func (r *Reader) Line() int { return r.line }

// Next returns the next document, or io.EOF after the last.
func (r *Reader) Next() (Doc, error) {
	for r.sc.Scan() {
		r.line++
		b := bytes.TrimSpace(r.sc.Bytes())
		if len(b) == 0 {
			continue
		}
		if r.line == 1 {
			b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
		}
		return r.parse(b)
	}
	if err := r.sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return Doc{}, fmt.Errorf("%w: line %d: longer than %d bytes", ErrSyntax, r.line+1, MaxLineBytes)
		}
		return Doc{}, fmt.Errorf("line %d: %w", r.line+1, err)
	}
	return Doc{}, io.EOF
}

func (r *Reader) parse(b []byte) (Doc, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return Doc{}, fmt.Errorf("%w: line %d: not a JSON object: %v", ErrSyntax, r.line, err)
	}
	d := Doc{Line: r.line}
	var err error
	if d.ID, err = scalar(m[r.fields.ID]); err != nil {
		return Doc{}, fmt.Errorf("%w: line %d: field %q: %v", ErrSyntax, r.line, r.fields.ID, err)
	}
	if _, ok := m[r.fields.ID]; !ok || d.ID == "" {
		if !r.fields.AutoID {
			return Doc{}, fmt.Errorf("%w: line %d: no %q field (set the id field name, or use auto ids)", ErrSyntax, r.line, r.fields.ID)
		}
		d.ID = strconv.Itoa(r.line)
	}
	if d.Title, err = scalar(m[r.fields.Title]); err != nil {
		return Doc{}, fmt.Errorf("%w: line %d: field %q: %v", ErrSyntax, r.line, r.fields.Title, err)
	}
	if d.Text, err = scalar(m[r.fields.Text]); err != nil {
		return Doc{}, fmt.Errorf("%w: line %d: field %q: %v", ErrSyntax, r.line, r.fields.Text, err)
	}
	if md, ok := m[r.fields.Metadata]; ok && string(md) != "null" {
		d.Metadata = md
	}
	return d, nil
}

// scalar turns a JSON string, number or null into a string.
func scalar(raw json.RawMessage) (string, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return "", nil
	}
	switch raw[0] {
	case '"':
		var s string
		err := json.Unmarshal(raw, &s)
		return s, err
	case '{', '[':
		return "", errors.New("want a string or number, got an object or array")
	case 't', 'f':
		return string(raw), nil
	}
	var n json.Number
	if err := json.Unmarshal(raw, &n); err != nil {
		return "", err
	}
	return n.String(), nil
}

// ReadAll reads every document of r.
func ReadAll(r io.Reader, fields Fields) ([]Doc, error) {
	cr := NewReader(r, fields)
	var docs []Doc
	for {
		d, err := cr.Next()
		if err == io.EOF {
			return docs, nil
		}
		if err != nil {
			return docs, err
		}
		docs = append(docs, d)
	}
}
