package devenv

import (
	"bytes"
	"fmt"

	"gopkg.in/yaml.v3"
)

// SetService returns the manifest bytes with service name set under
// services: added at the end, or replaced where it stands. The user's
// comments and the order of what was there are kept, and the result is
// validated before it is returned.
func SetService(data []byte, name string, s Service) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("the manifest is not a YAML mapping")
	}
	root := doc.Content[0]
	services := mappingValue(root, "services")
	if services == nil {
		root.Content = append(root.Content,
			&yaml.Node{Kind: yaml.ScalarNode, Value: "services"},
			&yaml.Node{Kind: yaml.MappingNode})
		services = root.Content[len(root.Content)-1]
	}
	if services.Kind != yaml.MappingNode {
		// "services:" with nothing after it decodes as a null scalar.
		*services = yaml.Node{Kind: yaml.MappingNode}
	}
	var value yaml.Node
	if err := value.Encode(s); err != nil {
		return nil, err
	}
	services.Style = 0
	if old := mappingValue(services, name); old != nil {
		*old = value
	} else {
		services.Content = append(services.Content,
			&yaml.Node{Kind: yaml.ScalarNode, Value: name}, &value)
	}

	return encodeChecked(&doc)
}

// RemoveService returns the manifest data without service name, keeping
// the rest of the file (comments, order) as it is.
func RemoveService(data []byte, name string) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, err
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("the manifest is not a YAML mapping")
	}
	services := mappingValue(doc.Content[0], "services")
	if services == nil || services.Kind != yaml.MappingNode {
		return data, nil
	}
	for i := 0; i+1 < len(services.Content); i += 2 {
		if services.Content[i].Value == name {
			services.Content = append(services.Content[:i], services.Content[i+2:]...)
			break
		}
	}
	return encodeChecked(&doc)
}

func mappingValue(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

// encodeChecked writes doc back as msx.yaml is written (two-space indent)
// and refuses a result that would not load, so an edit never leaves a
// manifest msx cannot read.
func encodeChecked(doc *yaml.Node) ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	if _, err := Parse(buf.Bytes()); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
