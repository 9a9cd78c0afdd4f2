package names

import (
	"strings"
	"testing"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name    string
		wantErr string // substring; empty means valid
	}{
		{"orders", ""},
		{"order-items", ""},
		{"a1", ""},
		{strings.Repeat("a", 49), ""},
		{"", "empty"},
		{"Orders", `try "orders"`},
		{"1orders", "not valid"},
		{"-orders", "not valid"},
		{"orders-", "misplaced '-'"},
		{"order--items", "misplaced '-'"},
		{"order_items", "not valid"},
		{"ordérs", "not valid"},
		{"../x", "is a path"},
		{"a/b", "is a path"},
		{`a\b`, "is a path"},
		{"..", "is a path"},
		{"/etc", "is a path"},
		{strings.Repeat("a", 50), "more than 49"},
		{strings.Repeat("a", 63), "more than 49"},
		{"func", "Go keyword"},
		{"type", "Go keyword"},
		{"string", "predeclared"},
		{"len", "predeclared"},
		{"gateway", "reserved"},
		{"platform", "reserved"},
		{"order items", "not valid"},
		{"orders-db", `collides with the names msx gives the database of a service`},
		{"gateway-secrets", `does not end in "-secrets"`},
		{"msx-events", `does not start with "msx-"`},
		{"db", ""},
		{"dbtools", ""},
		{"orders-dbx", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Validate("service", tt.name)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate(%q) = %v, want nil", tt.name, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate(%q) = nil, want error containing %q", tt.name, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Validate(%q) = %q, want it to contain %q", tt.name, err, tt.wantErr)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("error is not one line: %q", err)
			}
		})
	}
}

func TestIdentifierForms(t *testing.T) {
	tests := []struct{ in, goName, lower, env string }{
		{"orders", "Orders", "orders", "ORDERS"},
		{"order-items", "OrderItems", "orderItems", "ORDER_ITEMS"},
		{"a1-b2", "A1B2", "a1B2", "A1_B2"},
	}
	for _, tt := range tests {
		if got := GoName(tt.in); got != tt.goName {
			t.Errorf("GoName(%q) = %q, want %q", tt.in, got, tt.goName)
		}
		if got := LowerGoName(tt.in); got != tt.lower {
			t.Errorf("LowerGoName(%q) = %q, want %q", tt.in, got, tt.lower)
		}
		if got := EnvName(tt.in); got != tt.env {
			t.Errorf("EnvName(%q) = %q, want %q", tt.in, got, tt.env)
		}
	}
}

func FuzzValidate(f *testing.F) {
	for _, s := range []string{"orders", "../x", "Orders", "func", "a-b", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		err := Validate("service", s)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("multi-line error for %q", s)
			}
			return
		}
		// Anything accepted is safe as a path element and a DNS label.
		if strings.ContainsAny(s, `/\. `) || len(s+"-db") > MaxLen-11 || s == "" || s[0] < 'a' || s[0] > 'z' {
			t.Fatalf("Validate accepted %q", s)
		}
	})
}

// A project may end in -db: only names on the project network collide.
func TestProjectNamesMayEndInDB(t *testing.T) {
	if err := Validate("project", "shop-db"); err != nil {
		t.Error(err)
	}
}

// TestProjectNamesAreDNSLabels: a project is a Kubernetes namespace and a
// label value, nothing longer, so it keeps the whole DNS label.
func TestProjectNamesAreDNSLabels(t *testing.T) {
	if err := Validate("project", strings.Repeat("a", 63)); err != nil {
		t.Errorf("a 63-character project name is refused: %v", err)
	}
	if err := Validate("project", strings.Repeat("a", 64)); err == nil || !strings.Contains(err.Error(), "more than 63") {
		t.Errorf("a 64-character project name: err = %v, want more than 63", err)
	}
}
