package e2e

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// adminGet GETs url on a program's admin listener with the workspace's
// admin token; the code is 0 when it does not answer (a restart).
func adminGet(t *testing.T, ws, url string) (int, string) {
	t.Helper()
	token, err := os.ReadFile(filepath.Join(ws, ".msx", "secrets", "admin-token"))
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest("GET", url, nil)
	if err != nil {
		return 0, err.Error()
	}
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(token)))
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}
