package scaffold

import (
	"strings"
	"testing"
	"testing/fstest"
)

func TestRenderPathsConditionalsAndFormatting(t *testing.T) {
	fsys := fstest.MapFS{
		"tree/dot-gitignore.tmpl":        {Data: []byte(".msx/\n")},
		"tree/main.go.tmpl":              {Data: []byte("package main\nconst name = {{goString .Name}}\nfunc main(){}\n")},
		"tree/only_sqlite.go.tmpl":       {Data: []byte(`{{if eq .DB "sqlite"}}package main{{end}}`)},
		"tree/sub/dot-config/x.txt.tmpl": {Data: []byte("{{.Name | upper}}")},
		"tree/README.md":                 {Data: []byte("not a template, not rendered")},
	}
	files, err := Render(fsys, "tree", map[string]string{"Name": `or"ders`, "DB": "none"})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	var order []string
	for _, f := range files {
		got[f.Path] = string(f.Data)
		order = append(order, f.Path)
	}
	want := map[string]string{
		".gitignore":        ".msx/\n",
		"main.go":           "package main\n\nconst name = \"or\\\"ders\"\n\nfunc main() {}\n",
		"sub/.config/x.txt": `OR"DERS`,
	}
	if len(got) != len(want) {
		t.Fatalf("rendered %v, want %d files", order, len(want))
	}
	for p, w := range want {
		if got[p] != w {
			t.Errorf("%s = %q, want %q", p, got[p], w)
		}
	}
	if strings.Join(order, ",") != ".gitignore,main.go,sub/.config/x.txt" {
		t.Errorf("order = %v, want lexical by template path", order)
	}
}

func TestRenderErrorsNameTheTemplate(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"missing key", "{{.Nope}}", "tree/a.txt.tmpl"},
		{"bad syntax", "{{if}}", "tree/a.txt.tmpl"},
		{"env is not available", `{{env "HOME"}}`, `function "env" not defined`},
		{"broken go", "package main\nfunc {", "does not parse"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			file := "tree/a.txt.tmpl"
			if tt.name == "broken go" {
				file = "tree/a.go.tmpl"
			}
			_, err := Render(fstest.MapFS{file: {Data: []byte(tt.src)}}, "tree", map[string]string{})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestRenderIsDeterministic(t *testing.T) {
	fsys := fstest.MapFS{}
	for _, n := range []string{"b", "a", "c/d", "c/a"} {
		fsys["t/"+n+".txt.tmpl"] = &fstest.MapFile{Data: []byte(`{{range $k, $v := .}}{{$k}}={{$v}};{{end}}`)}
	}
	data := map[string]int{"z": 1, "a": 2, "m": 3}
	first, err := Render(fsys, "t", data)
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		again, err := Render(fsys, "t", data)
		if err != nil {
			t.Fatal(err)
		}
		for i := range first {
			if first[i].Path != again[i].Path || string(first[i].Data) != string(again[i].Data) {
				t.Fatalf("render differs: %v vs %v", first[i], again[i])
			}
		}
	}
}

func TestFuncsAreAnAllowlist(t *testing.T) {
	m := funcs()
	for _, name := range allowed {
		if m[name] == nil {
			t.Errorf("allowed function %s is not in sprig", name)
		}
	}
	for _, name := range []string{"now", "date", "randAlpha", "randInt", "uuidv4", "env", "expandenv", "genPrivateKey"} {
		if _, ok := m[name]; ok {
			t.Errorf("%s is in the function map: output could depend on the clock, chance or the environment", name)
		}
	}
}
