package trainer

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/twinsearch/twin/eval"
)

// ErrData reports unusable training data (empty file, missing column,
// non-numeric label); the message names the file and line.
var ErrData = errors.New("trainer: bad training data")

// Example is one training item: A goes through the query tower, B through
// the document tower. Y is the pair's label (1 similar, 0 dissimilar, or a
// graded score rescaled to [0, 1]) when the source is labelled. Neg holds
// explicit negatives for A (triplets, mined hard negatives).
type Example struct {
	A, B string
	Y    float64
	Neg  []string
}

// Source is a training set the sampler draws from by index, so a run is
// reproducible and resumable from a draw count alone.
//
// Example(i, r) returns item i in [0, Len()); r is a generator private to
// this draw (random crops use it). Implementations must be safe for
// concurrent use by several goroutines.
type Source interface {
	Name() string
	Len() int
	Labelled() bool
	Example(i int, r *rand.Rand) (Example, error)
}

// ---------------------------------------------------------------- pair files

// Columns says where the texts and the label are in a pair or triplet file.
// A column is a 0-based index ("5") or a header name ("sentence_A"); for
// JSONL it is a key.
type Columns struct {
	// Format is "tsv", "csv" or "jsonl"; "" picks it from the file extension
	// (.csv -> csv, .jsonl/.json -> jsonl, anything else tsv).
	Format string `json:"format"`
	A      string `json:"a"`
	B      string `json:"b"`
	// Label is the label column; "" means the file holds positive pairs only.
	Label string `json:"label"`
	// Neg is an optional third text column (triplets: anchor, positive, negative).
	Neg string `json:"neg"`
	// Header is "yes", "no" or "auto" (default): auto treats the first line
	// as a header when its label (or, without a label column, A column)
	// cell is not a number, or when a column is given by name.
	Header string `json:"header"`
	// Min and Max rescale labels to [0, 1] as (y-Min)/(Max-Min). Both zero:
	// labels already in [0, 1] are kept; otherwise the file's own min and
	// max are used.
	Min float64 `json:"min"`
	Max float64 `json:"max"`
}

// Presets are column specs for the pair sets twin is tested on.
var Presets = map[string]Columns{
	// STS Benchmark: genre, file, year, id, score, s1, s2 (TAB-separated, no
	// header, stray quotes, some lines with extra columns). Scores 0-5.
	"stsb": {Format: "tsv", A: "5", B: "6", Label: "4", Header: "no", Min: 0, Max: 5},
	// SICK: pair_ID sentence_A sentence_B relatedness_score entailment_judgment. Scores 1-5.
	"sick": {Format: "tsv", A: "1", B: "2", Label: "3", Header: "auto", Min: 1, Max: 5},
	// MRPC: Quality #1_ID #2_ID #1_String #2_String; Quality 1 = paraphrase.
	"mrpc": {Format: "tsv", A: "3", B: "4", Label: "0", Header: "auto", Min: 0, Max: 1},
}

// Pairs is a labelled (or positive-only) pair or triplet set held in memory.
type Pairs struct {
	Path     string
	Items    []Example
	labelled bool
}

func (p *Pairs) Name() string   { return filepath.Base(p.Path) }
func (p *Pairs) Len() int       { return len(p.Items) }
func (p *Pairs) Labelled() bool { return p.labelled }
func (p *Pairs) Example(i int, _ *rand.Rand) (Example, error) {
	return p.Items[i], nil
}

// Labels returns the labels (for dev evaluation).
func (p *Pairs) Labels() []float64 {
	y := make([]float64, len(p.Items))
	for i, e := range p.Items {
		y[i] = e.Y
	}
	return y
}

// LoadPairs reads a pair or triplet file with the given columns. Errors name
// the file and the 1-based line.
func LoadPairs(path string, c Columns) (*Pairs, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	p, err := ReadPairs(f, c)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	p.Path = path
	return p, nil
}

// ReadPairs is LoadPairs on a reader.
func ReadPairs(r io.Reader, c Columns) (*Pairs, error) {
	format := c.Format
	if c.A == "" || c.B == "" {
		return nil, fmt.Errorf("%w: columns a and b are required", ErrData)
	}
	var rows func() ([]string, map[string]any, int, error)
	line := 0
	switch format {
	case "csv":
		cr := csv.NewReader(newBOMSkipper(r))
		cr.LazyQuotes = true
		cr.FieldsPerRecord = -1
		rows = func() ([]string, map[string]any, int, error) {
			rec, err := cr.Read()
			if err != nil {
				var pe *csv.ParseError
				if errors.As(err, &pe) {
					return nil, nil, pe.Line, fmt.Errorf("%w: line %d: %v", ErrData, pe.Line, pe.Err)
				}
				return nil, nil, 0, err
			}
			l, _ := cr.FieldPos(0)
			return rec, nil, l, nil
		}
	case "tsv", "":
		sc := bufio.NewScanner(newBOMSkipper(r))
		sc.Buffer(make([]byte, 64<<10), 16<<20)
		rows = func() ([]string, map[string]any, int, error) {
			for sc.Scan() {
				line++
				s := strings.TrimRight(sc.Text(), "\r")
				if strings.TrimSpace(s) == "" {
					continue
				}
				return strings.Split(s, "\t"), nil, line, nil
			}
			if err := sc.Err(); err != nil {
				return nil, nil, line, err
			}
			return nil, nil, line, io.EOF
		}
	case "jsonl":
		sc := bufio.NewScanner(newBOMSkipper(r))
		sc.Buffer(make([]byte, 64<<10), 64<<20)
		rows = func() ([]string, map[string]any, int, error) {
			for sc.Scan() {
				line++
				b := bytes.TrimSpace(sc.Bytes())
				if len(b) == 0 {
					continue
				}
				var m map[string]any
				if err := json.Unmarshal(b, &m); err != nil {
					return nil, nil, line, fmt.Errorf("%w: line %d: %v", ErrData, line, err)
				}
				return nil, m, line, nil
			}
			if err := sc.Err(); err != nil {
				return nil, nil, line, err
			}
			return nil, nil, line, io.EOF
		}
	default:
		return nil, fmt.Errorf("%w: unknown format %q (want tsv, csv or jsonl)", ErrData, format)
	}
	p := &Pairs{labelled: c.Label != ""}
	idx := map[string]int{}
	byName := false
	for _, col := range []string{c.A, c.B, c.Label, c.Neg} {
		if _, err := strconv.Atoi(col); col != "" && err != nil {
			byName = true
		}
	}
	first := true
	for {
		rec, obj, ln, err := rows()
		if err == io.EOF {
			break
		}
		if err != nil {
			if errors.Is(err, ErrData) {
				return nil, err
			}
			return nil, fmt.Errorf("%w: line %d: %v", ErrData, ln, err)
		}
		if first && obj == nil {
			first = false
			header := c.Header == "yes" || (c.Header != "no" && byName)
			if c.Header == "" || c.Header == "auto" {
				probe := c.Label
				if k, err := strconv.Atoi(probe); err == nil && k < len(rec) {
					if _, err := strconv.ParseFloat(strings.TrimSpace(rec[k]), 64); err != nil {
						header = true
					}
				}
			}
			if header {
				for i, h := range rec {
					idx[strings.TrimSpace(h)] = i
				}
				continue
			}
		}
		get := func(col, what string) (string, error) {
			if obj != nil {
				v, ok := obj[col]
				if !ok {
					return "", fmt.Errorf("%w: line %d: no %s key %q", ErrData, ln, what, col)
				}
				switch x := v.(type) {
				case string:
					return x, nil
				case float64:
					return strconv.FormatFloat(x, 'g', -1, 64), nil
				case bool:
					if x {
						return "1", nil
					}
					return "0", nil
				}
				return "", fmt.Errorf("%w: line %d: %s key %q is not a string or number", ErrData, ln, what, col)
			}
			k, err := strconv.Atoi(col)
			if err != nil {
				var ok bool
				if k, ok = idx[col]; !ok {
					return "", fmt.Errorf("%w: line %d: no %s column %q in the header", ErrData, ln, what, col)
				}
			}
			if k < 0 || k >= len(rec) {
				return "", fmt.Errorf("%w: line %d: %s column %s missing (the line has %d columns)", ErrData, ln, what, col, len(rec))
			}
			return rec[k], nil
		}
		var e Example
		if e.A, err = get(c.A, "text a"); err != nil {
			return nil, err
		}
		if e.B, err = get(c.B, "text b"); err != nil {
			return nil, err
		}
		if c.Neg != "" {
			neg, err := get(c.Neg, "negative")
			if err != nil {
				return nil, err
			}
			e.Neg = []string{neg}
		}
		if c.Label != "" {
			s, err := get(c.Label, "label")
			if err != nil {
				return nil, err
			}
			y, err := strconv.ParseFloat(strings.Trim(strings.TrimSpace(s), `"`), 64)
			if err != nil || math.IsNaN(y) || math.IsInf(y, 0) {
				return nil, fmt.Errorf("%w: line %d: label %q is not a finite number", ErrData, ln, s)
			}
			e.Y = y
		} else {
			e.Y = 1
		}
		e.A, e.B = strings.TrimSpace(e.A), strings.TrimSpace(e.B)
		p.Items = append(p.Items, e)
	}
	if len(p.Items) == 0 {
		return nil, fmt.Errorf("%w: no pairs", ErrData)
	}
	if p.labelled {
		p.normalize(c.Min, c.Max)
	}
	return p, nil
}

func (p *Pairs) normalize(lo, hi float64) {
	if lo == 0 && hi == 0 {
		lo, hi = math.Inf(1), math.Inf(-1)
		for _, e := range p.Items {
			lo, hi = math.Min(lo, e.Y), math.Max(hi, e.Y)
		}
		if lo >= 0 && hi <= 1 {
			return
		}
	}
	if hi <= lo {
		return
	}
	for i := range p.Items {
		y := (p.Items[i].Y - lo) / (hi - lo)
		p.Items[i].Y = math.Min(1, math.Max(0, y))
	}
}

type bomSkipper struct {
	r    *bufio.Reader
	done bool
}

func newBOMSkipper(r io.Reader) io.Reader { return &bomSkipper{r: bufio.NewReader(r)} }

func (b *bomSkipper) Read(p []byte) (int, error) {
	if !b.done {
		b.done = true
		if pre, err := b.r.Peek(3); err == nil && bytes.Equal(pre, []byte{0xEF, 0xBB, 0xBF}) {
			b.r.Discard(3)
		}
	}
	return b.r.Read(p)
}

// ---------------------------------------------------------------- corpus

// Corpus is random access to a BEIR corpus.jsonl without holding its text:
// one pass records each document's id and byte range; Doc reads and decodes
// one line on demand. Memory: the ids plus 12 bytes per document.
// Safe for concurrent use.
type Corpus struct {
	Path  string
	IDs   []string
	index map[string]int
	off   []int64
	size  []int32
	f     *os.File
}

// OpenCorpus indexes path (BEIR corpus.jsonl: _id, title, text per line).
func OpenCorpus(path string) (*Corpus, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	c := &Corpus{Path: path, f: f, index: map[string]int{}}
	br := bufio.NewReaderSize(f, 1<<20)
	var off int64
	line := 0
	for {
		b, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			var long []byte
			long = append(long, b...)
			for err == bufio.ErrBufferFull {
				b, err = br.ReadSlice('\n')
				long = append(long, b...)
			}
			b = long
		}
		if len(b) == 0 && err != nil {
			if err != io.EOF {
				f.Close()
				return nil, err
			}
			break
		}
		line++
		t := bytes.TrimSpace(b)
		if len(t) > 0 {
			var d struct {
				ID json.RawMessage `json:"_id"`
			}
			if jerr := json.Unmarshal(t, &d); jerr != nil || len(d.ID) == 0 {
				f.Close()
				return nil, fmt.Errorf("%w: %s line %d: not a JSON document with an _id", ErrData, path, line)
			}
			var id string
			if json.Unmarshal(d.ID, &id) != nil {
				id = string(d.ID) // numeric id
			}
			c.index[id] = len(c.IDs)
			c.IDs = append(c.IDs, id)
			c.off = append(c.off, off)
			c.size = append(c.size, int32(len(b)))
		}
		off += int64(len(b))
		if err == io.EOF {
			break
		}
	}
	if len(c.IDs) == 0 {
		f.Close()
		return nil, fmt.Errorf("%w: %s holds no documents", ErrData, path)
	}
	return c, nil
}

// Close closes the file.
func (c *Corpus) Close() error { return c.f.Close() }

// Len returns the number of documents.
func (c *Corpus) Len() int { return len(c.IDs) }

// Lookup returns the index of a document id.
func (c *Corpus) Lookup(id string) (int, bool) { i, ok := c.index[id]; return i, ok }

// Doc returns document i's title and text.
func (c *Corpus) Doc(i int) (title, text string, err error) {
	buf := make([]byte, c.size[i])
	if _, err := c.f.ReadAt(buf, c.off[i]); err != nil {
		return "", "", fmt.Errorf("read %s document %d: %w", c.Path, i, err)
	}
	var d struct {
		Title string `json:"title"`
		Text  string `json:"text"`
	}
	if err := json.Unmarshal(bytes.TrimSpace(buf), &d); err != nil {
		return "", "", fmt.Errorf("%w: %s document %s: %v", ErrData, c.Path, c.IDs[i], err)
	}
	return d.Title, d.Text, nil
}

// Body returns title and text joined as the encoder indexes them.
func (c *Corpus) Body(i int) (string, error) {
	title, text, err := c.Doc(i)
	if err != nil {
		return "", err
	}
	switch {
	case title == "":
		return text, nil
	case text == "":
		return title, nil
	}
	return title + "\n\n" + text, nil
}

// CropOptions shape self-supervised pairs.
type CropOptions struct {
	// MinFrac and MaxFrac bound a crop's length as a fraction of the
	// document's words (defaults 0.1 and 0.5, Contriever's).
	MinFrac, MaxFrac float64
	// MinWords is the shortest crop (default 5 words).
	MinWords int
	// TitleProb is the probability of a (title, crop of body) pair when the
	// document has a title (default 0.5; negative turns it off).
	TitleProb float64
	// WholeDoc makes the document side the whole document instead of a crop.
	WholeDoc bool
}

func (o CropOptions) withDefaults() CropOptions {
	if o.MinFrac == 0 {
		o.MinFrac = 0.1
	}
	if o.MaxFrac == 0 {
		o.MaxFrac = 0.5
	}
	if o.MinWords == 0 {
		o.MinWords = 5
	}
	if o.TitleProb == 0 {
		o.TitleProb = 0.5
	}
	return o
}

// SelfSupervised yields positive pairs from an unlabeled corpus: two
// independent random crops of one document, or its title and a crop of its
// body (Contriever; DESIGN "Trainer").
type SelfSupervised struct {
	C   *Corpus
	Opt CropOptions
}

func (s *SelfSupervised) Name() string   { return "self:" + filepath.Base(s.C.Path) }
func (s *SelfSupervised) Len() int       { return s.C.Len() }
func (s *SelfSupervised) Labelled() bool { return false }

func (s *SelfSupervised) Example(i int, r *rand.Rand) (Example, error) {
	o := s.Opt.withDefaults()
	title, text, err := s.C.Doc(i)
	if err != nil {
		return Example{}, err
	}
	words := strings.Fields(text)
	crop := func() string {
		n := len(words)
		if n <= o.MinWords {
			return strings.Join(words, " ")
		}
		frac := o.MinFrac + r.Float64()*(o.MaxFrac-o.MinFrac)
		l := max(o.MinWords, int(math.Round(frac*float64(n))))
		l = min(l, n)
		start := r.IntN(n - l + 1)
		return strings.Join(words[start:start+l], " ")
	}
	var e Example
	if title != "" && o.TitleProb > 0 && r.Float64() < o.TitleProb {
		e.A = title
	} else {
		e.A = crop()
	}
	if o.WholeDoc {
		e.B = text
		if e.A == title {
			e.B = text
		}
	} else {
		e.B = crop()
	}
	if e.A == "" || e.B == "" {
		e.A, e.B = title+" "+text, title+" "+text
	}
	e.Y = 1
	return e, nil
}

// ---------------------------------------------------------------- BEIR qrels

// Qrels yields (query, relevant document) pairs of a BEIR split; each pair
// is one item. Negatives holds optional mined hard negatives per pair
// (document indices), set by the miner.
type Qrels struct {
	C       *Corpus
	Queries map[string]string
	Pairs   [][2]int // (query index into QIDs, doc index)
	QIDs    []string
	// Positives lists every relevant doc of each query (to skip when mining).
	Positives map[int]map[int]bool
	// Negatives per query index; Example adds one chosen at random.
	Negatives map[int][]int
	name      string
}

// NewQrels builds the pairs of qrels (grade >= 1) whose query text and
// document exist; unknown ids are counted and reported by the caller.
func NewQrels(c *Corpus, queries map[string]string, qrels eval.Qrels, name string) (*Qrels, int, error) {
	q := &Qrels{C: c, Queries: queries, Positives: map[int]map[int]bool{}, name: name}
	missing := 0
	qids := make([]string, 0, len(qrels))
	for qid := range qrels {
		qids = append(qids, qid)
	}
	sortStrings(qids)
	for _, qid := range qids {
		if _, ok := queries[qid]; !ok {
			missing++
			continue
		}
		docs := make([]string, 0, len(qrels[qid]))
		for d, g := range qrels[qid] {
			if g >= 1 {
				docs = append(docs, d)
			}
		}
		sortStrings(docs)
		qi := -1
		for _, d := range docs {
			di, ok := c.Lookup(d)
			if !ok {
				missing++
				continue
			}
			if qi < 0 {
				qi = len(q.QIDs)
				q.QIDs = append(q.QIDs, qid)
				q.Positives[qi] = map[int]bool{}
			}
			q.Positives[qi][di] = true
			q.Pairs = append(q.Pairs, [2]int{qi, di})
		}
	}
	if len(q.Pairs) == 0 {
		return nil, missing, fmt.Errorf("%w: qrels %s give no (query, document) pair with a known query and document", ErrData, name)
	}
	return q, missing, nil
}

func (q *Qrels) Name() string   { return "qrels:" + q.name }
func (q *Qrels) Len() int       { return len(q.Pairs) }
func (q *Qrels) Labelled() bool { return false }

func (q *Qrels) Example(i int, r *rand.Rand) (Example, error) {
	p := q.Pairs[i]
	body, err := q.C.Body(p[1])
	if err != nil {
		return Example{}, err
	}
	e := Example{A: q.Queries[q.QIDs[p[0]]], B: body, Y: 1}
	if negs := q.Negatives[p[0]]; len(negs) > 0 {
		nb, err := q.C.Body(negs[r.IntN(len(negs))])
		if err != nil {
			return Example{}, err
		}
		e.Neg = []string{nb}
	}
	return e, nil
}

func sortStrings(s []string) { slices.Sort(s) }
