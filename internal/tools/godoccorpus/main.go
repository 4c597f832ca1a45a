// Command godoccorpus writes the documentation of the Go standard library
// (from $(go env GOROOT)/src, on every machine that builds twin) as a BEIR
// corpus: one JSON line per package and per documented exported
// declaration, {"_id": "strings.Cut", "title": "strings.Cut", "text": doc}.
// make demo uses it so the demo runs on real text with no download.
//
//	go run ./internal/tools/godoccorpus -out corpus.jsonl
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"go/ast"
	"go/doc"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
)

type record struct {
	ID    string `json:"_id"`
	Title string `json:"title"`
	Text  string `json:"text"`
}

func main() {
	root := flag.String("root", filepath.Join(runtime.GOROOT(), "src"), "Go source tree to read")
	out := flag.String("out", "", "output JSONL file (default stdout)")
	minWords := flag.Int("min-words", 8, "skip doc comments shorter than this")
	flag.Parse()
	w := bufio.NewWriter(os.Stdout)
	if *out != "" {
		f, err := os.Create(*out)
		if err != nil {
			fatal(err)
		}
		defer f.Close()
		w = bufio.NewWriter(f)
	}
	defer w.Flush()
	var dirs []string
	filepath.WalkDir(*root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() {
			name := d.Name()
			if name == "testdata" || name == "vendor" || name == "internal" || name == "cmd" || strings.HasPrefix(name, ".") {
				return filepath.SkipDir
			}
			dirs = append(dirs, path)
		}
		return nil
	})
	sort.Strings(dirs)
	enc := json.NewEncoder(w)
	n := 0
	seen := map[string]bool{}
	emit := func(id, text string) {
		text = strings.TrimSpace(text)
		if len(strings.Fields(text)) < *minWords || seen[id] {
			return
		}
		seen[id] = true
		enc.Encode(record{ID: id, Title: id, Text: text})
		n++
	}
	for _, dir := range dirs {
		rel, _ := filepath.Rel(*root, dir)
		importPath := filepath.ToSlash(rel)
		fset := token.NewFileSet()
		pkgs, err := parser.ParseDir(fset, dir, func(fi fs.FileInfo) bool {
			return !strings.HasSuffix(fi.Name(), "_test.go")
		}, parser.ParseComments)
		if err != nil {
			continue
		}
		for name, pkg := range pkgs {
			if name == "main" || strings.HasSuffix(name, "_test") {
				continue
			}
			files := make([]*ast.File, 0, len(pkg.Files))
			for _, f := range pkg.Files {
				files = append(files, f)
			}
			p, err := doc.NewFromFiles(fset, files, importPath)
			if err != nil {
				continue
			}
			emit(importPath, p.Doc)
			for _, f := range p.Funcs {
				emit(importPath+"."+f.Name, f.Doc)
			}
			for _, t := range p.Types {
				emit(importPath+"."+t.Name, t.Doc)
				for _, f := range t.Funcs {
					emit(importPath+"."+f.Name, f.Doc)
				}
				for _, m := range t.Methods {
					emit(importPath+"."+t.Name+"."+m.Name, m.Doc)
				}
			}
		}
	}
	fmt.Fprintf(os.Stderr, "godoccorpus: %d documents from %s\n", n, *root)
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "godoccorpus:", err)
	os.Exit(1)
}
