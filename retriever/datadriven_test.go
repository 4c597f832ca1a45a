package retriever

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/twinsearch/twin/index"
	"github.com/twinsearch/twin/index/bm25"
)

var update = flag.Bool("update", false, "rewrite the expected output of testdata/retrieval/*.txt")

// TestDataDriven runs the scenarios of ../testdata/retrieval in the style
// of pebble's datadriven tests. Each case is a command line, optional
// input lines, "----", and the expected output, cases separated by a blank
// line; lines starting with # are comments. Commands:
//
//	upsert                      input: "id | v1 v2 ... | title | text" per line
//	delete                      input: one doc id per line
//	search mode=M k=N [vec=a,b,c] [fusion=rrf|weighted] [alpha=A] [shape=union|rerank]
//	       [norm=minmax|zscore] [kprime=N] [rrfk=K] [exact] [collapse=COS]
//	                            input: the query text (may be empty with vec=)
//	                            output: one hit per line, "id dense=R bm25=R"
//	                            (source ranks; "-" = absent), or "error: ..."
func TestDataDriven(t *testing.T) {
	files, _ := filepath.Glob("../testdata/retrieval/*.txt")
	if len(files) == 0 {
		t.Fatal("no ../testdata/retrieval/*.txt fixtures")
	}
	for _, f := range files {
		for _, be := range []string{"memory", "collection"} {
			t.Run(filepath.Base(f)+"/"+be, func(t *testing.T) { runFile(t, f, be) })
		}
	}
}

// ddBackend is where a scenario's documents live: "memory" (MemVectors +
// an in-memory BM25 index) or "collection" (index.Collection on disk with
// HNSW, and DIR/bm25 kept in step by BM25Follower). Both must produce the
// expected output.
type ddBackend struct {
	kind  string
	dir   string
	lex   *bm25.Index
	mem   *MemVectors
	coll  *index.Collection
	src   Sources
	ready bool
}

func (b *ddBackend) open(t *testing.T, dim int) {
	if b.ready {
		return
	}
	b.ready = true
	var err error
	switch b.kind {
	case "memory":
		if b.lex, err = bm25.Open("", bm25.Options{}); err != nil {
			t.Fatal(err)
		}
		b.mem = NewMemVectors(dim)
		b.src = Sources{Dense: b.mem, Vectors: b.mem, Lexical: BM25Source(b.lex)}
	default:
		b.dir = filepath.Join(t.TempDir(), "coll")
		if b.lex, err = bm25.Open(BM25Dir(b.dir), bm25.Options{}); err != nil {
			t.Fatal(err)
		}
		if b.coll, err = index.Open(b.dir, index.Options{Dim: dim, Followers: []index.Follower{BM25Follower(b.lex)}}); err != nil {
			t.Fatal(err)
		}
		c := Collection{b.coll}
		b.src = Sources{Dense: c, Vectors: c, Lexical: BM25Source(b.lex)}
	}
	t.Cleanup(func() {
		if b.coll != nil {
			b.coll.Close()
		}
		b.lex.Close()
	})
}

func (b *ddBackend) upsert(t *testing.T, docs []index.Doc) {
	ctx := context.Background()
	b.open(t, len(docs[0].Vector))
	if b.coll != nil {
		if _, err := b.coll.Upsert(ctx, docs); err != nil {
			t.Fatal(err)
		}
		return
	}
	var bd []bm25.Doc
	for _, d := range docs {
		if err := b.mem.Upsert(d.ID, d.Vector); err != nil {
			t.Fatal(err)
		}
		bd = append(bd, bm25.Doc{ID: d.ID, Title: d.Title, Text: d.Text})
	}
	if err := b.lex.Upsert(ctx, bd); err != nil {
		t.Fatal(err)
	}
}

func (b *ddBackend) delete(t *testing.T, ids []string) {
	ctx := context.Background()
	for _, id := range ids {
		id = strings.TrimSpace(id)
		if b.coll != nil {
			if err := b.coll.Delete(ctx, id); err != nil {
				t.Fatal(err)
			}
			continue
		}
		b.mem.Delete(id)
		if err := b.lex.Delete(ctx, []string{id}); err != nil {
			t.Fatal(err)
		}
	}
}

func (b *ddBackend) count(t *testing.T) string {
	n, _ := b.lex.Count()
	d := b.src.Dense.Len()
	if n != d {
		t.Fatalf("BM25 holds %d docs, the dense side %d", n, d)
	}
	return fmt.Sprintf("ok, %d docs", n)
}

type ddCase struct {
	cmd      string
	input    []string
	expected []string
	comments []string // lines before the command
}

func parseDD(t *testing.T, path string) []ddCase {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var cases []ddCase
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	for i := 0; i < len(lines); {
		var c ddCase
		for i < len(lines) && (strings.HasPrefix(lines[i], "#") || strings.TrimSpace(lines[i]) == "") {
			c.comments = append(c.comments, lines[i])
			i++
		}
		if i >= len(lines) {
			break
		}
		c.cmd = lines[i]
		i++
		for i < len(lines) && lines[i] != "----" {
			c.input = append(c.input, lines[i])
			i++
		}
		if i >= len(lines) {
			t.Fatalf("%s: command %q has no ---- line", path, c.cmd)
		}
		i++
		for i < len(lines) && strings.TrimSpace(lines[i]) != "" {
			c.expected = append(c.expected, lines[i])
			i++
		}
		cases = append(cases, c)
	}
	return cases
}

func runFile(t *testing.T, path, backend string) {
	ctx := context.Background()
	cases := parseDD(t, path)
	be := &ddBackend{kind: backend}
	var r *Retriever
	var err error
	var out strings.Builder
	for ci, c := range cases {
		fields := strings.Fields(c.cmd)
		args := map[string]string{}
		for _, f := range fields[1:] {
			k, v, _ := strings.Cut(f, "=")
			args[k] = v
		}
		var got []string
		switch fields[0] {
		case "upsert":
			var docs []index.Doc
			for _, line := range c.input {
				p := strings.Split(line, "|")
				if len(p) != 4 {
					t.Fatalf("case %d: upsert line %q: want id | vector | title | text", ci, line)
				}
				docs = append(docs, index.Doc{ID: strings.TrimSpace(p[0]), Vector: parseVec(t, strings.Fields(p[1])),
					Title: strings.TrimSpace(p[2]), Text: strings.TrimSpace(p[3])})
			}
			be.upsert(t, docs)
			got = []string{be.count(t)}
		case "delete":
			be.delete(t, c.input)
			got = []string{be.count(t)}
		case "search":
			if r == nil {
				if r, err = New(be.src, Settings{}); err != nil {
					t.Fatal(err)
				}
			}
			s := Settings{Mode: Mode(args["mode"]), Fusion: args["fusion"], Shape: args["shape"], Norm: Norm(args["norm"])}
			if a, ok := args["alpha"]; ok {
				f, _ := strconv.ParseFloat(a, 64)
				s.Alpha = &f
			}
			s.KPrime, _ = strconv.Atoi(args["kprime"])
			s.RRFK, _ = strconv.ParseFloat(args["rrfk"], 64)
			_, s.ExactRerank = args["exact"]
			s.Collapse, _ = strconv.ParseFloat(args["collapse"], 64)
			k, _ := strconv.Atoi(args["k"])
			q := strings.Join(c.input, "\n")
			var res *Result
			if v, ok := args["vec"]; ok {
				res, err = r.SearchVector(ctx, q, parseVec(t, strings.Split(v, ",")), k, s)
			} else {
				res, err = r.Search(ctx, q, k, s)
			}
			if err != nil {
				got = []string{"error: " + err.Error()}
				break
			}
			if res.Truncated {
				got = append(got, "(query truncated)")
			}
			for _, h := range res.Hits {
				line := h.DocID
				for _, src := range h.Sources {
					rk := "-"
					if src.Rank > 0 {
						rk = strconv.Itoa(src.Rank)
					}
					line += " " + src.Source + "=" + rk
				}
				if len(h.Duplicates) > 0 {
					line += " dup=" + strings.Join(h.Duplicates, ",")
				}
				got = append(got, line)
			}
			if len(got) == 0 {
				got = []string{"(no hits)"}
			}
		default:
			t.Fatalf("case %d: unknown command %q", ci, fields[0])
		}
		for _, l := range c.comments {
			out.WriteString(l + "\n")
		}
		out.WriteString(c.cmd + "\n")
		for _, l := range c.input {
			out.WriteString(l + "\n")
		}
		out.WriteString("----\n")
		for _, l := range got {
			out.WriteString(l + "\n")
		}
		if !*update && strings.Join(got, "\n") != strings.Join(c.expected, "\n") {
			t.Errorf("%s case %d %q:\ngot:\n%s\nwant:\n%s", filepath.Base(path), ci, c.cmd, strings.Join(got, "\n"), strings.Join(c.expected, "\n"))
		}
	}
	if *update && backend == "memory" {
		if err := os.WriteFile(path, []byte(out.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func parseVec(t *testing.T, f []string) []float32 {
	v := make([]float32, len(f))
	for i, s := range f {
		x, err := strconv.ParseFloat(strings.TrimSpace(s), 32)
		if err != nil {
			t.Fatalf("vector value %q: %v", s, err)
		}
		v[i] = float32(x)
	}
	return v
}
