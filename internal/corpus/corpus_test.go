package corpus

import (
	"errors"
	"strings"
	"testing"
)

func TestReader(t *testing.T) {
	in := "\xef\xbb\xbf{\"_id\": \"a\", \"title\": \"T\", \"text\": \"body\", \"metadata\": {\"k\": 1}}\n\n" +
		"{\"_id\": 7, \"text\": \"bad \xff utf8\"}\n"
	docs, err := ReadAll(strings.NewReader(in), Fields{})
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) != 2 || docs[0].ID != "a" || docs[0].Body() != "T\n\nbody" || string(docs[0].Metadata) != `{"k": 1}` {
		t.Fatalf("got %+v", docs)
	}
	if docs[1].ID != "7" || docs[1].Line != 3 || !strings.Contains(docs[1].Text, "\ufffd") {
		t.Fatalf("got %+v", docs[1])
	}
}

func TestReaderErrors(t *testing.T) {
	cases := map[string]string{
		"not json":  "{\"_id\":\"a\",\"text\":\"x\"}\nnot json\n",
		"no id":     "{\"_id\":\"a\",\"text\":\"x\"}\n{\"text\":\"y\"}\n",
		"object id": "{\"_id\":\"a\",\"text\":\"x\"}\n{\"_id\":{},\"text\":\"y\"}\n",
	}
	for name, in := range cases {
		t.Run(name, func(t *testing.T) {
			docs, err := ReadAll(strings.NewReader(in), Fields{})
			if !errors.Is(err, ErrSyntax) || !strings.Contains(err.Error(), "line 2") || len(docs) != 1 {
				t.Fatalf("docs=%d err=%v", len(docs), err)
			}
		})
	}
	docs, err := ReadAll(strings.NewReader("{\"body\":\"y\"}\n"), Fields{Text: "body", AutoID: true})
	if err != nil || docs[0].ID != "1" || docs[0].Text != "y" {
		t.Fatalf("auto id: %+v %v", docs, err)
	}
}

func FuzzReader(f *testing.F) {
	f.Add("{\"_id\":\"a\",\"text\":\"x\"}\n")
	f.Add("{\"_id\":1,\"title\":null}\n\n{")
	f.Fuzz(func(t *testing.T, in string) {
		r := NewReader(strings.NewReader(in), Fields{})
		for i := 0; i < 1000; i++ {
			if _, err := r.Next(); err != nil {
				return
			}
		}
	})
}
