package eval

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/twinsearch/twin/internal/testutil"
)

func TestReadQrels(t *testing.T) {
	in := "query-id\tcorpus-id\tscore\n1\td1\t1\n1\td2\t2\n\n2\td1\t0\n3 0 d7 1\n"
	q, err := ReadQrels(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := Qrels{"1": {"d1": 1, "d2": 2}, "2": {"d1": 0}, "3": {"d7": 1}}
	if !reflect.DeepEqual(q, want) {
		t.Fatalf("got %v, want %v", q, want)
	}
	for _, bad := range []string{"1\td1\n", "1\td1\t1\n2\td\tnope\n"} {
		if _, err := ReadQrels(strings.NewReader(bad)); err == nil {
			t.Errorf("%q: want error", bad)
		}
	}
}

func TestLoadBEIRMissingSplit(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "qrels"), 0o755)
	os.WriteFile(filepath.Join(dir, "qrels", "test.tsv"), []byte("q\td\t1\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "queries.jsonl"), []byte(`{"_id":"q","text":"hello"}`+"\n"), 0o644)
	_, err := LoadBEIR(dir, "dev")
	if err == nil || !strings.Contains(err.Error(), filepath.Join(dir, "qrels", "dev.tsv")) || !strings.Contains(err.Error(), "test") {
		t.Fatalf("want an error naming the path and the splits present, got %v", err)
	}
	ds, err := LoadBEIR(dir, "test")
	if err != nil {
		t.Fatal(err)
	}
	if ds.Queries["q"] != "hello" || ds.Qrels["q"]["d"] != 1 {
		t.Fatalf("loaded %+v", ds)
	}
	n, ex := ds.Qrels.CheckDocs(func(id string) bool { return id != "d" })
	if n != 1 || len(ex) != 1 || ex[0] != "q/d" {
		t.Fatalf("unknown docs %d %v", n, ex)
	}
}

func TestUnseen(t *testing.T) {
	train := Qrels{"t1": {"a": 1, "z": 0}, "t2": {"b": 1}}
	test := Qrels{
		"x": {"a": 1},         // seen
		"y": {"c": 1, "b": 1}, // one seen
		"w": {"c": 1, "z": 1}, // z graded 0 in train: unseen
		"v": {"a": 0},         // no relevant doc: not a query
	}
	if got := Unseen(test, train); !reflect.DeepEqual(got, []string{"w"}) {
		t.Fatalf("Unseen = %v", got)
	}
}

func TestSciFactUnseen(t *testing.T) {
	dir := testutil.NeedData(t, "scifact")
	test, err := LoadBEIR(dir, "test")
	if err != nil {
		t.Fatal(err)
	}
	train, err := LoadBEIR(dir, "train")
	if err != nil {
		t.Fatal(err)
	}
	if len(test.Qrels) != 300 || len(train.Qrels) != 809 {
		t.Fatalf("test %d train %d queries with qrels", len(test.Qrels), len(train.Qrels))
	}
	if got := Unseen(test.Qrels, train.Qrels); len(got) != 104 {
		t.Fatalf("unseen test queries: %d, want 104", len(got))
	}
	ids, err := CorpusIDs(dir)
	if err != nil {
		t.Fatal(err)
	}
	if n, ex := test.Qrels.CheckDocs(func(id string) bool { _, ok := ids[id]; return ok }); n != 0 {
		t.Fatalf("%d unknown doc ids in SciFact test qrels: %v", n, ex)
	}
}

func TestTRECRoundTrip(t *testing.T) {
	run := Run{"q1": {{"a", 0.1}, {"b", 1e-300}, {"c", 0.1}}, "q2": {{"x", -3}}}
	var buf bytes.Buffer
	if err := WriteTREC(&buf, run, "t"); err != nil {
		t.Fatal(err)
	}
	want := "q1 Q0 c 1 0.1 t\nq1 Q0 a 2 0.1 t\nq1 Q0 b 3 1e-300 t\nq2 Q0 x 1 -3 t\n"
	if buf.String() != want {
		t.Fatalf("got\n%s\nwant\n%s", buf.String(), want)
	}
	back, err := ReadTREC(&buf)
	if err != nil {
		t.Fatal(err)
	}
	q := Qrels{"q1": {"a": 1, "b": 2}, "q2": {"x": 1}}
	if a, b := Evaluate(q, run, Options{}), Evaluate(q, back, Options{}); !reflect.DeepEqual(a.PerQuery, b.PerQuery) {
		t.Fatalf("metrics differ after round trip: %v vs %v", a.PerQuery, b.PerQuery)
	}
	if err := WriteTREC(&bytes.Buffer{}, Run{"q 1": {{"a", 1}}}, ""); err == nil {
		t.Fatal("want error for a query id with a space")
	}
	for _, bad := range []string{"q Q0 d 1 x t\n", "q Q0 d 1 1\n", "q Q0 d r 1 t\n", "q Q0 d 1 NaN t\n"} {
		if _, err := ReadTREC(strings.NewReader(bad)); err == nil {
			t.Errorf("%q: want error", bad)
		}
	}
}

func FuzzReadTREC(f *testing.F) {
	f.Add("q1 Q0 d1 1 0.5 run\nq1 Q0 d2 2 0.25 run\n")
	f.Add("q Q0 d 1 1e308 t\n\n")
	f.Add("q Q0 d 1 -Inf t\n")
	f.Add("a b c d e f g\n")
	f.Fuzz(func(t *testing.T, s string) {
		run, err := ReadTREC(strings.NewReader(s))
		if err != nil {
			return
		}
		var buf bytes.Buffer
		if err := WriteTREC(&buf, run, "x"); err != nil {
			t.Fatalf("write of a parsed run failed: %v", err)
		}
		back, err := ReadTREC(&buf)
		if err != nil {
			t.Fatalf("reread: %v", err)
		}
		for q, h := range run {
			if len(dedup(append([]Hit(nil), h...))) != len(back[q]) {
				t.Fatalf("query %q: %d hits, %d after round trip", q, len(h), len(back[q]))
			}
		}
		Evaluate(Qrels{}, run, Options{})
	})
}

func FuzzReadQrels(f *testing.F) {
	f.Add("query-id\tcorpus-id\tscore\n1\td1\t1\n")
	f.Add("1 0 d 2\n")
	f.Add("x\ty\tz\n")
	f.Fuzz(func(t *testing.T, s string) {
		q, err := ReadQrels(strings.NewReader(s))
		if err != nil {
			return
		}
		run := Run{}
		for qid, docs := range q {
			for d, g := range docs {
				run[qid] = append(run[qid], Hit{d, float64(g)})
			}
		}
		rep := Evaluate(q, run, Options{})
		for _, m := range rep.PerQuery {
			if m.NDCG10 < 0 || m.NDCG10 > 1+1e-9 || m.Recall100 > 1+1e-9 || m.MAP100 > 1+1e-9 {
				t.Fatalf("metrics out of range: %+v", m)
			}
		}
	})
}

func FuzzReadQueries(f *testing.F) {
	f.Add(`{"_id":"1","text":"a b"}` + "\n")
	f.Add(`{"_id":1}` + "\n" + `{"_id":1}`)
	f.Fuzz(func(t *testing.T, s string) {
		ReadQueries(strings.NewReader(s))
	})
}
