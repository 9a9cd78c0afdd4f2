package runner

import "testing"

// The password file matches the published port and escapes what libpq
// escapes.
func TestPGPassLine(t *testing.T) {
	d := Database{Service: "orders", DB: "postgres", User: "orders", Name: "orders", HostPort: 54321}
	if got, want := d.PGPassLine(`pw:with\both`), `127.0.0.1:54321:orders:orders:pw\:with\\both`+"\n"; got != want {
		t.Errorf("PGPassLine = %q, want %q", got, want)
	}
}
