package eval

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/twinsearch/twin/internal/corpus"
)

// ErrFormat reports a malformed queries or qrels line.
var ErrFormat = errors.New("eval: bad line")

// Qrels maps query id -> doc id -> relevance grade.
type Qrels map[string]map[string]int

// Dataset is a BEIR data set split: the queries and the qrels of one split.
// The corpus is not held in memory; stream it with CorpusReader.
type Dataset struct {
	Dir, Split string
	Queries    map[string]string // query id -> text (every query of queries.jsonl)
	Qrels      Qrels             // of the split
}

// CorpusPath returns DIR/corpus.jsonl.
func CorpusPath(dir string) string { return filepath.Join(dir, "corpus.jsonl") }

// QrelsPath returns DIR/qrels/<split>.tsv.
func QrelsPath(dir, split string) string { return filepath.Join(dir, "qrels", split+".tsv") }

// LoadBEIR reads DIR/queries.jsonl and DIR/qrels/<split>.tsv. A missing
// split file is an error naming the path and the splits that exist.
func LoadBEIR(dir, split string) (*Dataset, error) {
	if split == "" || strings.ContainsAny(split, `/\`) {
		return nil, fmt.Errorf("eval: bad split name %q", split)
	}
	qp := QrelsPath(dir, split)
	if _, err := os.Stat(qp); err != nil {
		have, _ := filepath.Glob(filepath.Join(dir, "qrels", "*.tsv"))
		var names []string
		for _, h := range have {
			names = append(names, strings.TrimSuffix(filepath.Base(h), ".tsv"))
		}
		if len(names) == 0 {
			return nil, fmt.Errorf("eval: no qrels for split %q: %s does not exist (and %s holds no *.tsv)", split, qp, filepath.Join(dir, "qrels"))
		}
		return nil, fmt.Errorf("eval: no qrels for split %q: %s does not exist (splits here: %s)", split, qp, strings.Join(names, ", "))
	}
	queries, err := readQueriesFile(filepath.Join(dir, "queries.jsonl"))
	if err != nil {
		return nil, err
	}
	f, err := os.Open(qp)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	qrels, err := ReadQrels(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", qp, err)
	}
	return &Dataset{Dir: dir, Split: split, Queries: queries, Qrels: qrels}, nil
}

func readQueriesFile(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("eval: queries: %w", err)
	}
	defer f.Close()
	q, err := ReadQueries(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return q, nil
}

// ReadQueries reads BEIR queries.jsonl ({"_id", "text"} per line) into
// id -> text. A repeated id is an error.
func ReadQueries(r io.Reader) (map[string]string, error) {
	cr := corpus.NewReader(r, corpus.Fields{})
	out := map[string]string{}
	for {
		d, err := cr.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if _, dup := out[d.ID]; dup {
			return nil, fmt.Errorf("%w: line %d: query id %q repeated", ErrFormat, d.Line, d.ID)
		}
		out[d.ID] = d.Text
	}
}

// ReadQrels reads a BEIR qrels TSV: an optional header line
// "query-id corpus-id score", then "qid<TAB>docid<TAB>grade" lines. TREC
// qrels ("qid 0 docid grade", space separated) are accepted too. A repeated
// (qid, docid) pair keeps the last grade.
func ReadQrels(r io.Reader) (Qrels, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	out := Qrels{}
	line := 0
	for sc.Scan() {
		line++
		s := strings.TrimSpace(sc.Text())
		if line == 1 {
			s = strings.TrimPrefix(s, "\ufeff")
		}
		if s == "" {
			continue
		}
		f := strings.Fields(s)
		var qid, did, grade string
		switch len(f) {
		case 3:
			qid, did, grade = f[0], f[1], f[2]
		case 4:
			qid, did, grade = f[0], f[2], f[3]
		default:
			return nil, fmt.Errorf("%w: qrels line %d: %d fields, want 3 (qid docid grade) or 4 (TREC)", ErrFormat, line, len(f))
		}
		g, err := strconv.Atoi(grade)
		if err != nil {
			if line == 1 && len(out) == 0 {
				continue // header
			}
			return nil, fmt.Errorf("%w: qrels line %d: grade %q is not an integer", ErrFormat, line, grade)
		}
		m := out[qid]
		if m == nil {
			m = map[string]int{}
			out[qid] = m
		}
		m[did] = g
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%w: qrels line %d: %v", ErrFormat, line+1, err)
	}
	return out, nil
}

// CheckDocs counts qrels entries whose doc id is not in the corpus (known
// reports membership). Such entries are kept (they lower recall as they
// would in trec_eval) but callers should report them.
func (q Qrels) CheckDocs(known func(docID string) bool) (unknown int, examples []string) {
	for _, qid := range sortedKeys(q) {
		for _, did := range sortedKeys(q[qid]) {
			if !known(did) {
				unknown++
				if len(examples) < 5 {
					examples = append(examples, qid+"/"+did)
				}
			}
		}
	}
	return unknown, examples
}

// CorpusIDs streams DIR/corpus.jsonl and returns the set of its doc ids.
func CorpusIDs(dir string) (map[string]struct{}, error) {
	f, err := os.Open(CorpusPath(dir))
	if err != nil {
		return nil, fmt.Errorf("eval: corpus: %w", err)
	}
	defer f.Close()
	ids := map[string]struct{}{}
	cr := corpus.NewReader(bufio.NewReaderSize(f, 1<<20), corpus.Fields{})
	for {
		d, err := cr.Next()
		if err == io.EOF {
			return ids, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", CorpusPath(dir), err)
		}
		ids[d.ID] = struct{}{}
	}
}

// Unseen returns the ids of the queries of test none of whose relevant docs
// (grade >= 1) is relevant to any query of train, sorted. On SciFact these
// are the 104 test queries that training on train qrels cannot lift by
// memorising documents.
func Unseen(test, train Qrels) []string {
	seen := map[string]bool{}
	for _, docs := range train {
		for d, g := range docs {
			if g >= 1 {
				seen[d] = true
			}
		}
	}
	var out []string
	for qid, docs := range test {
		ok, any := true, false
		for d, g := range docs {
			if g < 1 {
				continue
			}
			any = true
			if seen[d] {
				ok = false
				break
			}
		}
		if ok && any {
			out = append(out, qid)
		}
	}
	sortStrings(out)
	return out
}

// Subset returns the qrels of the given query ids only.
func (q Qrels) Subset(qids []string) Qrels {
	out := Qrels{}
	for _, id := range qids {
		if m, ok := q[id]; ok {
			out[id] = m
		}
	}
	return out
}

// MarshalQueries is a helper for tests and tools: queries as JSONL.
func MarshalQueries(w io.Writer, q map[string]string) error {
	enc := json.NewEncoder(w)
	for _, id := range sortedKeys(q) {
		if err := enc.Encode(map[string]string{"_id": id, "text": q[id]}); err != nil {
			return err
		}
	}
	return nil
}
