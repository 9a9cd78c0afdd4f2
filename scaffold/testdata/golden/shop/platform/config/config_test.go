package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestString(t *testing.T) {
	t.Setenv("CONFIG_TEST_NAME", "")
	if got := String("CONFIG_TEST_NAME", "def"); got != "def" {
		t.Errorf("unset: got %q, want %q", got, "def")
	}
	t.Setenv("CONFIG_TEST_NAME", "set")
	if got := String("CONFIG_TEST_NAME", "def"); got != "set" {
		t.Errorf("set: got %q, want %q", got, "set")
	}
}

func TestTyped(t *testing.T) {
	t.Setenv("CONFIG_TEST_INT", "42")
	t.Setenv("CONFIG_TEST_DUR", "1500ms")
	t.Setenv("CONFIG_TEST_BOOL", "true")
	if n, err := Int("CONFIG_TEST_INT", 1); err != nil || n != 42 {
		t.Errorf("Int = %d, %v; want 42, nil", n, err)
	}
	if n, err := Int64("CONFIG_TEST_INT", 1); err != nil || n != 42 {
		t.Errorf("Int64 = %d, %v; want 42, nil", n, err)
	}
	if d, err := Duration("CONFIG_TEST_DUR", time.Second); err != nil || d != 1500*time.Millisecond {
		t.Errorf("Duration = %v, %v; want 1.5s, nil", d, err)
	}
	if b, err := Bool("CONFIG_TEST_BOOL", false); err != nil || !b {
		t.Errorf("Bool = %v, %v; want true, nil", b, err)
	}
	if d, err := Duration("CONFIG_TEST_UNSET", time.Second); err != nil || d != time.Second {
		t.Errorf("Duration default = %v, %v; want 1s, nil", d, err)
	}
}

func TestMalformedIsAnError(t *testing.T) {
	t.Setenv("CONFIG_TEST_BAD", "five")
	if _, err := Int("CONFIG_TEST_BAD", 1); err == nil {
		t.Error("Int: want an error for a malformed value")
	}
	if _, err := Duration("CONFIG_TEST_BAD", time.Second); err == nil {
		t.Error("Duration: want an error for a malformed value")
	}
	if _, err := Bool("CONFIG_TEST_BAD", false); err == nil {
		t.Error("Bool: want an error for a malformed value")
	}
}

func TestListenAddr(t *testing.T) {
	tests := []struct {
		name, listen, port, want string
	}{
		{"default binds loopback", "", "", "127.0.0.1:8081"},
		{"PORT moves the port", "", "9000", "127.0.0.1:9000"},
		{"LISTEN_ADDR wins", "0.0.0.0:7000", "9000", "0.0.0.0:7000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("LISTEN_ADDR", tt.listen)
			t.Setenv("PORT", tt.port)
			if got := ListenAddr("8081"); got != tt.want {
				t.Errorf("ListenAddr = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestFile(t *testing.T) {
	t.Setenv("CONFIG_TEST_FILE", "")
	if v, err := File("CONFIG_TEST_FILE"); err != nil || v != "" {
		t.Errorf("unset: %q, %v", v, err)
	}
	path := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(path, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("CONFIG_TEST_FILE", path)
	if v, err := File("CONFIG_TEST_FILE"); err != nil || v != "s3cret" {
		t.Errorf("File = %q, %v; want s3cret", v, err)
	}
	t.Setenv("CONFIG_TEST_FILE", path+".missing")
	_, err := File("CONFIG_TEST_FILE")
	if err == nil || !strings.Contains(err.Error(), "CONFIG_TEST_FILE") || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("missing file: %v", err)
	}
}
