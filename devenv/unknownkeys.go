package devenv

import (
	"fmt"
	"reflect"
	"strings"

	"gopkg.in/yaml.v3"
)

// checkKeys walks the YAML document against the type it decodes into and
// reports the first key no field has, in the words of msx.yaml rather than
// of Go: "unknown key `dbb` in services.orders (line 18); did you mean `db`?".
func checkKeys(data []byte) error {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil || len(doc.Content) == 0 {
		return nil // the decoder reports syntax errors itself
	}
	return walkKeys(doc.Content[0], reflect.TypeOf(Manifest{}), "")
}

func walkKeys(n *yaml.Node, t reflect.Type, path string) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind != yaml.MappingNode {
		if n.Kind == yaml.SequenceNode && t.Kind() == reflect.Slice {
			for _, e := range n.Content {
				if err := walkKeys(e, t.Elem(), path); err != nil {
					return err
				}
			}
		}
		return nil
	}
	switch t.Kind() {
	case reflect.Map:
		for i := 0; i+1 < len(n.Content); i += 2 {
			if err := walkKeys(n.Content[i+1], t.Elem(), join(path, n.Content[i].Value)); err != nil {
				return err
			}
		}
	case reflect.Struct:
		fields := map[string]reflect.Type{}
		var known []string
		for i := 0; i < t.NumField(); i++ {
			name, _, _ := strings.Cut(t.Field(i).Tag.Get("yaml"), ",")
			if name == "" || name == "-" {
				continue
			}
			fields[name] = t.Field(i).Type
			known = append(known, name)
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			ft, ok := fields[k.Value]
			if !ok {
				where := ""
				if path != "" {
					where = " in " + path
				}
				msg := fmt.Sprintf("unknown key `%s`%s (line %d)", k.Value, where, k.Line)
				if s := nearest(k.Value, known); s != "" {
					msg += fmt.Sprintf("; did you mean `%s`?", s)
				} else {
					msg += "; known keys: " + strings.Join(known, ", ")
				}
				return fmt.Errorf("%s", msg)
			}
			if err := walkKeys(n.Content[i+1], ft, join(path, k.Value)); err != nil {
				return err
			}
		}
	}
	return nil
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// Nearest returns the candidate closest to s within two edits, or "": the
// name a user most likely meant ("order" for "orders").
func Nearest(s string, candidates []string) string { return nearest(s, candidates) }

// nearest returns the candidate within two edits of s, or "".
func nearest(s string, candidates []string) string {
	best, bestD := "", 3
	for _, c := range candidates {
		if d := editDistance(s, c); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}
