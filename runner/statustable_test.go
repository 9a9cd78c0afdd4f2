package runner

import (
	"bytes"
	"strings"
	"testing"
)

// A piped msx ps says what its columns are, as on a terminal, unless the
// script asked for the rows alone.
func TestPsPrintsHeaderWhenPipedUnlessNoHeader(t *testing.T) {
	list := []ServiceStatus{{Service: "orders", State: "running", Ready: true}}
	const header = "SERVICE\tSTATE\tREADY\tPORTS\tRESTARTS\tUPTIME\tBREAKERS\tFAULTS\tEVENTS\n"
	var out bytes.Buffer
	if err := WriteStatusTable(&out, list, false, true); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), header) || !strings.Contains(out.String(), "\norders\trunning\tyes\t") {
		t.Errorf("piped msx ps:\n%q\nwant the header line, then tab-separated rows", out.String())
	}
	out.Reset()
	if err := WriteStatusTable(&out, list, false, false); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "orders\trunning\tyes\t") {
		t.Errorf("msx ps --no-header:\n%q\nwant the rows alone", out.String())
	}
	out.Reset()
	if err := WriteStatusTable(&out, list, true, true); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out.String(), "SERVICE  ") {
		t.Errorf("msx ps on a terminal:\n%q\nwant an aligned header", out.String())
	}
}

// On a terminal, msx ps says where each GraphQL service answers; piped, the
// rows stay rows.
func TestPsShowsGraphQLEndpoints(t *testing.T) {
	list := []ServiceStatus{{Service: "catalog", State: "running", GraphQL: "http://127.0.0.1:8080/api/catalog/graphql"}}
	var out bytes.Buffer
	if err := WriteStatusTable(&out, list, true, true); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "\ncatalog serves GraphQL at http://127.0.0.1:8080/api/catalog/graphql\n") {
		t.Errorf("msx ps on a terminal:\n%s\nwant the GraphQL endpoint under the table", out.String())
	}
	out.Reset()
	if err := WriteStatusTable(&out, list, false, true); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(out.String(), "serves GraphQL") {
		t.Errorf("piped msx ps:\n%s\nwant rows only", out.String())
	}
}
