package scaffold

import (
	"bytes"
	"fmt"
	"go/format"
	"go/parser"
	"go/token"
	"io/fs"
	"path"
	"strconv"
	"strings"
	"text/template"

	"github.com/Masterminds/sprig/v3"
)

// File is one rendered output file.
type File struct {
	Path string // slash-separated, relative to where the tree is written
	Data []byte

	// expect, when set, is the content the file must still have when it is
	// replaced: an edit made meanwhile by someone else is never lost.
	expect []byte
}

// allowed are the sprig functions templates may use: pure string and list
// helpers. An allowlist, not sprig minus a few, so that nothing reading the
// clock (now, date), randomness (randAlpha, uuidv4) or the environment
// (env) can make the same inputs render differently. Add to it as needed.
var allowed = []string{
	"toString", "replace", "lower", "upper", "title", "trim", "trimPrefix", "trimSuffix",
	"contains", "hasPrefix", "hasSuffix", "join", "quote", "squote", "indent", "nindent",
	"default", "snakecase", "camelcase", "kebabcase", "add", "sub", "list", "has",
}

// funcs is the function map of every template: the allowed sprig
// functions and goString.
func funcs() template.FuncMap {
	all := sprig.TxtFuncMap()
	m := template.FuncMap{"goString": strconv.Quote}
	for _, name := range allowed {
		m[name] = all[name]
	}
	return m
}

// Render renders every .tmpl file under root in fsys with data, in lexical
// order. Output paths drop ".tmpl" and turn a leading "dot-" of any path
// element into "."; a file that renders to white space only is left out,
// which is how templates make a file conditional. Go output must parse and
// is gofmt'ed. Errors name the template file.
func Render(fsys fs.FS, root string, data any) ([]File, error) {
	var files []File
	err := fs.WalkDir(fsys, root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || !strings.HasSuffix(p, ".tmpl") {
			return nil
		}
		src, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		t, err := template.New(p).Option("missingkey=error").Funcs(funcs()).Parse(string(src))
		if err != nil {
			return fmt.Errorf("template %s: %w", p, err)
		}
		var buf bytes.Buffer
		if err := t.Execute(&buf, data); err != nil {
			return fmt.Errorf("template %s: %w", p, err)
		}
		if len(bytes.TrimSpace(buf.Bytes())) == 0 {
			return nil
		}
		out := outputPath(strings.TrimPrefix(strings.TrimPrefix(p, root), "/"))
		body := buf.Bytes()
		if strings.HasSuffix(out, ".go") {
			if body, err = formatGo(out, body); err != nil {
				return fmt.Errorf("template %s: %w", p, err)
			}
		}
		files = append(files, File{Path: out, Data: body})
		return nil
	})
	return files, err
}

func outputPath(p string) string {
	p = strings.TrimSuffix(p, ".tmpl")
	parts := strings.Split(p, "/")
	for i, e := range parts {
		if strings.HasPrefix(e, "dot-") {
			parts[i] = "." + strings.TrimPrefix(e, "dot-")
		}
	}
	return path.Join(parts...)
}

// formatGo checks that generated Go parses, then gofmt's it, so that a broken
// template is caught before anything is written.
func formatGo(name string, src []byte) ([]byte, error) {
	if _, err := parser.ParseFile(token.NewFileSet(), name, src, parser.AllErrors); err != nil {
		return nil, fmt.Errorf("generated %s does not parse: %v", name, err)
	}
	return format.Source(src)
}
