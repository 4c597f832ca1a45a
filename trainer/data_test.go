package trainer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/twinsearch/twin/encoder"
	"github.com/twinsearch/twin/eval"
	"github.com/twinsearch/twin/internal/testutil"
)

func TestReadPairsFormats(t *testing.T) {
	cases := []struct {
		name  string
		in    string
		cols  Columns
		n     int
		first Example
	}{
		{"tsv-no-header", "g\tf\t2012\t1\t5.000\tA plane.\tAn \"air\" plane.\n", Presets["stsb"], 1, Example{A: "A plane.", B: `An "air" plane.`, Y: 1}},
		{"tsv-header-by-name", "pair_ID\tsentence_A\tsentence_B\trelatedness_score\n1\ta b\tc d\t3\n", Columns{A: "sentence_A", B: "sentence_B", Label: "relatedness_score", Min: 1, Max: 5}, 1, Example{A: "a b", B: "c d", Y: 0.5}},
		{"tsv-bom-auto-header", "\ufeffQuality\t#1_ID\t#2_ID\t#1_String\t#2_String\n1\t7\t8\tx y\tz w\n0\t1\t2\tp\tq\n", Presets["mrpc"], 2, Example{A: "x y", B: "z w", Y: 1}},
		{"tsv-bom-no-header", "\ufeff1\t7\t8\tx y\tz w\n", Presets["mrpc"], 1, Example{A: "x y", B: "z w", Y: 1}},
		{"csv-quoted", "a,b,score\n\"hello, world\",bye,0.25\n", Columns{Format: "csv", A: "a", B: "b", Label: "score"}, 1, Example{A: "hello, world", B: "bye", Y: 0.25}},
		{"jsonl", `{"q": "x", "d": "y", "y": 1}` + "\n\n" + `{"q": "u", "d": "v", "y": 0}` + "\n", Columns{Format: "jsonl", A: "q", B: "d", Label: "y"}, 2, Example{A: "x", B: "y", Y: 1}},
		{"triplets", "a\tp\tn\n", Columns{A: "0", B: "1", Neg: "2"}, 1, Example{A: "a", B: "p", Y: 1, Neg: []string{"n"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := ReadPairs(strings.NewReader(c.in), c.cols)
			if err != nil {
				t.Fatal(err)
			}
			if len(p.Items) != c.n {
				t.Fatalf("%d items, want %d", len(p.Items), c.n)
			}
			got := p.Items[0]
			if got.A != c.first.A || got.B != c.first.B || got.Y != c.first.Y || len(got.Neg) != len(c.first.Neg) {
				t.Fatalf("first = %+v, want %+v", got, c.first)
			}
		})
	}
}

func TestReadPairsErrors(t *testing.T) {
	cases := []struct {
		name, in, want string
		cols           Columns
	}{
		{"empty", "", "no pairs", Presets["stsb"]},
		{"non-numeric label", "g\tf\t2012\t1\t5.0\ta\tb\ng\tf\t2012\t1\tfive\ta\tb\n", "line 2: label \"five\"", Presets["stsb"]},
		{"missing column", "g\tf\t2012\t1\t5.0\ta\n", "line 1: text b column 6 missing", Presets["stsb"]},
		{"missing label", "x\ty\n", "line 1: label column 4 missing", Columns{A: "0", B: "1", Label: "4"}},
		{"unknown header", "a\tb\nx\ty\n", "no label column \"score\"", Columns{A: "a", B: "b", Label: "score"}},
		{"bad json", "{\"a\": 1\n", "line 1", Columns{Format: "jsonl", A: "a", B: "b"}},
		{"NaN label", "a\tb\tNaN\n", "not a finite number", Columns{A: "0", B: "1", Label: "2"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := ReadPairs(strings.NewReader(c.in), c.cols)
			if !errors.Is(err, ErrData) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want ErrData containing %q", err, c.want)
			}
		})
	}
}

func FuzzReadPairs(f *testing.F) {
	f.Add([]byte("g\tf\t2012\t1\t5.000\tA plane.\tAn air plane.\n"), 0)
	f.Add([]byte("\ufeffQuality\t#1_ID\t#2_ID\t#1_String\t#2_String\n1\t7\t8\tx\ty\n"), 1)
	f.Add([]byte("a,b,score\n\"x,\"\"y\",z,1\n"), 2)
	f.Add([]byte(`{"q":"x","d":"y","y":1}`), 3)
	specs := []Columns{Presets["stsb"], Presets["mrpc"], {Format: "csv", A: "a", B: "b", Label: "score"}, {Format: "jsonl", A: "q", B: "d", Label: "y"}}
	f.Fuzz(func(t *testing.T, data []byte, k int) {
		p, err := ReadPairs(bytes.NewReader(data), specs[uint(k)%uint(len(specs))])
		if err != nil {
			if !errors.Is(err, ErrData) {
				t.Fatalf("error without ErrData: %v", err)
			}
			return
		}
		for _, e := range p.Items {
			if e.Y < 0 || e.Y > 1 || e.Y != e.Y {
				t.Fatalf("label %g outside [0, 1]", e.Y)
			}
		}
	})
}

func TestSharedPairSets(t *testing.T) {
	cases := []struct {
		dir, file, preset string
		n                 int
	}{
		{"stsb", "sts-train.csv", "stsb", 5749},
		{"stsb", "sts-test.csv", "stsb", 1379},
		{"sick", "SICK.txt", "sick", 9927},
		{"sick", "SICK_train.txt", "sick", 4500},
		{"mrpc", "msr_paraphrase_train.txt", "mrpc", 4076},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			dir := testutil.NeedData(t, c.dir)
			p, err := LoadPairs(filepath.Join(dir, c.file), Presets[c.preset])
			if err != nil {
				t.Fatal(err)
			}
			// Header lines and a missing final newline may shift the count by one.
			if len(p.Items) < c.n-1 || len(p.Items) > c.n {
				t.Fatalf("%d pairs, want about %d", len(p.Items), c.n)
			}
			for i, e := range p.Items {
				if e.A == "" || e.B == "" || e.Y < 0 || e.Y > 1 {
					t.Fatalf("item %d: %+v", i, e)
				}
			}
		})
	}
}

func TestCorpusAndSources(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "corpus.jsonl")
	body := `{"_id": "d1", "title": "Alpha", "text": "one two three four five six seven eight nine ten eleven twelve"}
{"_id": 7, "text": "short text here"}

{"_id": "d3", "title": "Gamma", "text": "the third document has words"}
`
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := OpenCorpus(path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if c.Len() != 3 || c.IDs[1] != "7" {
		t.Fatalf("ids %v", c.IDs)
	}
	if b, _ := c.Body(2); b != "Gamma\n\nthe third document has words" {
		t.Fatalf("body %q", b)
	}
	s := &SelfSupervised{C: c}
	r := rand.New(rand.NewPCG(1, 1))
	for range 50 {
		e, err := s.Example(0, r)
		if err != nil {
			t.Fatal(err)
		}
		if e.A == "" || e.B == "" || !strings.Contains("Alpha one two three four five six seven eight nine ten eleven twelve", e.B) {
			t.Fatalf("%+v", e)
		}
	}
	q, missing, err := NewQrels(c, map[string]string{"q1": "question"}, eval.Qrels{"q1": {"d3": 1, "nope": 1}, "q2": {"d1": 1}}, "train")
	if err != nil || missing != 2 || q.Len() != 1 {
		t.Fatalf("qrels: %v missing %d len %d", err, missing, q.Len())
	}
	if _, _, err := NewQrels(c, nil, eval.Qrels{"q": {"d1": 1}}, "x"); !errors.Is(err, ErrData) {
		t.Fatalf("no usable qrels: %v", err)
	}
	empty := filepath.Join(dir, "empty.jsonl")
	os.WriteFile(empty, nil, 0o644)
	if _, err := OpenCorpus(empty); !errors.Is(err, ErrData) {
		t.Fatalf("empty corpus: %v", err)
	}
}

// Batches never repeat a text, and the sampler's draws are reproducible.
func TestSamplerNoDuplicates(t *testing.T) {
	p := &Pairs{}
	for i := range 40 {
		p.Items = append(p.Items, Example{A: string(rune('a' + i%7)), B: string(rune('A' + i%13)), Y: 1})
	}
	s1, _ := newSampler([]Source{p}, nil, 3)
	s2, _ := newSampler([]Source{p}, nil, 3)
	for step := range 5 {
		b1, err := s1.next(int64(step), 6)
		if err != nil {
			t.Fatal(err)
		}
		b2, _ := s2.next(int64(step), 6)
		seen := map[string]bool{}
		for i := range b1.Q {
			for _, x := range []string{b1.Q[i], b1.P[i]} {
				if seen[x] {
					t.Fatalf("step %d: %q twice", step, x)
				}
				seen[x] = true
			}
			if b1.Q[i] != b2.Q[i] || b1.P[i] != b2.P[i] {
				t.Fatal("same seed, different batches")
			}
		}
	}
}

func TestBestThreshold(t *testing.T) {
	acc, f1, thr := bestThreshold([]float64{0.9, 0.8, 0.3, 0.1}, []float64{1, 1, 0, 0})
	if acc != 1 || f1 != 1 || thr != 0.8 {
		t.Fatal(acc, f1, thr)
	}
}

func TestMiners(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "corpus.jsonl")
	var b strings.Builder
	topics := []string{"protein folding water", "neuron spikes brain", "galaxy stars light", "market prices money"}
	for i := range 40 {
		fmt.Fprintf(&b, `{"_id": "d%d", "title": "doc %d", "text": "%s study number %d"}`+"\n", i, i, topics[i%4], i)
	}
	os.WriteFile(path, []byte(b.String()), 0o644)
	c, err := OpenCorpus(path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	queries := map[string]string{"q0": "protein folding", "q1": "brain neuron"}
	q, _, err := NewQrels(c, queries, eval.Qrels{"q0": {"d0": 1, "d4": 1}, "q1": {"d1": 1}}, "train")
	if err != nil {
		t.Fatal(err)
	}
	m := smallModel(t, encoder.Tied)
	for name, mine := range map[string]func() error{
		"bm25":  func() error { return MineBM25(context.Background(), q, 1, 5) },
		"model": func() error { return MineModel(context.Background(), m, q, 1, 5) },
	} {
		q.Negatives = nil
		if err := mine(); err != nil {
			t.Fatal(name, err)
		}
		for qi, negs := range q.Negatives {
			if len(negs) != 5 {
				t.Fatalf("%s: query %d has %d negatives", name, qi, len(negs))
			}
			for _, d := range negs {
				if q.Positives[qi][d] {
					t.Fatalf("%s: positive %s mined as a negative", name, c.IDs[d])
				}
			}
		}
		if name == "bm25" {
			// Lexical negatives of "protein folding" share its topic.
			for _, d := range q.Negatives[0] {
				if (d % 4) != 0 {
					t.Fatalf("bm25 negative %s is off-topic", c.IDs[d])
				}
			}
		}
		e, err := q.Example(0, rand.New(rand.NewPCG(1, 1)))
		if err != nil || len(e.Neg) != 1 {
			t.Fatalf("%s: example %+v %v", name, e, err)
		}
	}
}
