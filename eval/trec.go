package eval

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode"
)

// WriteTREC writes run as a TREC run file, one line per hit:
// "qid Q0 docid rank score tag", queries in id order, hits in trec_eval's
// order (score descending, doc id descending), ranks from 1. Scores are
// written with the shortest representation that reads back exactly.
// Ids containing white space cannot be written and are an error.
func WriteTREC(w io.Writer, run Run, tag string) error {
	if tag == "" {
		tag = "twin"
	}
	if strings.ContainsFunc(tag, isSpace) {
		return fmt.Errorf("eval: run tag %q contains white space", tag)
	}
	bw := bufio.NewWriter(w)
	for _, qid := range sortedKeys(run) {
		if qid == "" || strings.ContainsFunc(qid, isSpace) {
			return fmt.Errorf("eval: query id %q is empty or contains white space", qid)
		}
		hits := dedup(append([]Hit(nil), run[qid]...))
		SortHits(hits)
		for i, h := range hits {
			if h.DocID == "" || strings.ContainsFunc(h.DocID, isSpace) {
				return fmt.Errorf("eval: doc id %q (query %s) is empty or contains white space", h.DocID, qid)
			}
			if math.IsNaN(h.Score) {
				return fmt.Errorf("eval: NaN score for doc %s (query %s)", h.DocID, qid)
			}
			fmt.Fprintf(bw, "%s Q0 %s %d %s %s\n", qid, h.DocID, i+1, strconv.FormatFloat(h.Score, 'g', -1, 64), tag)
		}
	}
	return bw.Flush()
}

// isSpace matches strings.Fields, which ReadTREC splits lines with.
func isSpace(r rune) bool { return unicode.IsSpace(r) }

// ReadTREC reads a TREC run file (six white-space separated fields per line;
// the rank and tag are ignored, as trec_eval ignores them). Errors name the
// line.
func ReadTREC(r io.Reader) (Run, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	run := Run{}
	line := 0
	for sc.Scan() {
		line++
		s := strings.TrimSpace(sc.Text())
		if s == "" {
			continue
		}
		f := strings.Fields(s)
		if len(f) != 6 {
			return nil, fmt.Errorf("%w: run line %d: %d fields, want 6 (qid Q0 docid rank score tag)", ErrFormat, line, len(f))
		}
		if _, err := strconv.Atoi(f[3]); err != nil {
			return nil, fmt.Errorf("%w: run line %d: rank %q is not an integer", ErrFormat, line, f[3])
		}
		sc, err := strconv.ParseFloat(f[4], 64)
		if err != nil || math.IsNaN(sc) {
			return nil, fmt.Errorf("%w: run line %d: score %q is not a number", ErrFormat, line, f[4])
		}
		run[f[0]] = append(run[f[0]], Hit{DocID: f[2], Score: sc})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: run line %d: %v", ErrFormat, line+1, err)
	}
	return run, nil
}
