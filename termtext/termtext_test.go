package termtext

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestLine(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"plain", "GET /api/orders/items 200", "GET /api/orders/items 200"},
		{"tab kept", "a\tb", "a\tb"},
		{"utf-8 kept", "café 😀 日本", "café 😀 日本"},
		{"backslash kept", `C:\dir\x1b`, `C:\dir\x1b`},
		{"title and clear", "/x\x1b]0;pwned\x07\x1b[2J", `/x\x1b]0;pwned\x07\x1b[2J`},
		{"newline and return", "a\nb\rc", `a\nb\rc`},
		{"nul and del", "a\x00b\x7f", `a\x00b\x7f`},
		{"c1 csi as utf-8", "a\u009b2Jb", `a\u009b2Jb`},
		{"c1 as a lone byte", "a\x9b2J", `a\x9b2J`},
		{"invalid utf-8", "a\xff\xfeb\xe2\x82", `a\xff\xfeb\xe2\x82`},
		{"bidi override", "user\u202egnp.exe", `user\u202egnp.exe`},
		{"bidi isolates and marks", "\u2066x\u2069\u200e\u200f\u061c", `\u2066x\u2069\u200e\u200f\u061c`},
		{"line separators", "a\u2028b\u2029c", `a\u2028b\u2029c`},
		{"nbsp kept", "a\u00a0b", "a\u00a0b"},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Line(tt.in); got != tt.want {
				t.Errorf("Line(%q) = %q, want %q", tt.in, got, tt.want)
			}
			if got := string(Append([]byte("> "), []byte(tt.in))); got != "> "+tt.want {
				t.Errorf("Append(%q) = %q, want %q", tt.in, got, "> "+tt.want)
			}
			if Clean([]byte(tt.in)) != (tt.in == tt.want) {
				t.Errorf("Clean(%q) = %v", tt.in, !(tt.in == tt.want))
			}
			if got := string(AppendString(nil, tt.in)); got != tt.want {
				t.Errorf("AppendString(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestText(t *testing.T) {
	in := "panic: boom\r\n\x1b[31mgoroutine 1\x1b[0m\n\tmain.go:3\rX"
	want := "panic: boom\n\\x1b[31mgoroutine 1\\x1b[0m\n\tmain.go:3\\rX"
	if got := Text(in); got != want {
		t.Errorf("Text = %q, want %q", got, want)
	}
}

func TestCleanReturnsItself(t *testing.T) {
	s := "GET /items/1 200 1.5ms"
	if got := Line(s); got != s {
		t.Fatal("changed")
	}
	allocs := testing.AllocsPerRun(100, func() { _ = Line(s) })
	if allocs != 0 {
		t.Errorf("Line of a clean string allocated %v times", allocs)
	}
	buf := make([]byte, 0, 64)
	allocs = testing.AllocsPerRun(100, func() { buf = Append(buf[:0], []byte(s)) })
	if allocs != 0 {
		t.Errorf("Append of a clean line allocated %v times", allocs)
	}
}

func TestAppendJSONKeepsTheValue(t *testing.T) {
	v := map[string]string{"path": "/x\x1b]0;t\x07\u009b\u202e\u2028", "ok": "café"}
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	out := AppendJSON(nil, b)
	if !printable(string(out)) {
		t.Fatalf("AppendJSON left a control: %q", out)
	}
	var back map[string]string
	if err := json.Unmarshal(out, &back); err != nil {
		t.Fatalf("AppendJSON made invalid JSON %q: %v", out, err)
	}
	if back["path"] != v["path"] || back["ok"] != v["ok"] {
		t.Errorf("value changed: %q", back)
	}
	indented, _ := json.MarshalIndent(v, "", "  ")
	out = AppendJSON(nil, indented)
	if err := json.Unmarshal(out, &back); err != nil || back["path"] != v["path"] || strings.Count(string(out), "\n") != 3 {
		t.Errorf("indented: %s: %v", out, err)
	}
	if got := string(AppendJSON(nil, []byte(`{"a":"x`+"\xff"+`"}`))); got != `{"a":"x\ufffd"}` {
		t.Errorf("invalid UTF-8: %s", got)
	}
}

// printable reports whether a terminal would interpret nothing in s.
func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if (r < 0x20 && r != '\t') || r == 0x7f || unsafeRune(r) {
			return false
		}
	}
	return true
}

func FuzzLine(f *testing.F) {
	for _, s := range []string{"", "plain", "a\tb", "\x1b]0;x\x07\x1b[2J", "\u009b\u202e", "\xff\xfe", "a\r\nb", "日本\u2066"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := Line(s)
		if !printable(got) || strings.ContainsAny(got, "\n\r") {
			t.Fatalf("Line(%q) = %q still has a control", s, got)
		}
		if printable(s) && !strings.ContainsAny(s, "\n\r") && got != s {
			t.Fatalf("Line(%q) = %q changed printable text", s, got)
		}
		text := Text(s)
		if !printable(strings.ReplaceAll(text, "\n", "")) || strings.Contains(text, "\r") {
			t.Fatalf("Text(%q) = %q still has a control", s, text)
		}
		if Clean([]byte(s)) != (got == s) {
			t.Fatalf("Clean(%q) disagrees with Line", s)
		}
		if string(Append(nil, []byte(s))) != got {
			t.Fatalf("Append and Line disagree on %q", s)
		}
		if b, err := json.Marshal(s); err == nil {
			js := AppendJSON(nil, b)
			var back string
			if err := json.Unmarshal(js, &back); err != nil || !printable(strings.ReplaceAll(string(js), "\n", "")) {
				t.Fatalf("AppendJSON(%s) = %s: %v", b, js, err)
			}
			var want string
			_ = json.Unmarshal(b, &want)
			if back != want {
				t.Fatalf("AppendJSON changed %q to %q", want, back)
			}
		}
	})
}

func BenchmarkAppendClean(b *testing.B) {
	line := []byte(`{"time":"2026-03-04T15:04:05.123456789Z","level":"INFO","msg":"request","method":"GET","path":"/items/1","status":200}`)
	buf := make([]byte, 0, 256)
	b.SetBytes(int64(len(line)))
	for i := 0; i < b.N; i++ {
		buf = Append(buf[:0], line)
	}
}
