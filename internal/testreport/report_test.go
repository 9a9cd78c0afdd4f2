package testreport

import (
	"bytes"
	"strings"
	"testing"
)

// stream is a shortened `go test -json` run: one package passing with a
// skipped test, one failing test, one package that did not build.
const stream = `{"Action":"start","Package":"a"}
{"Action":"run","Package":"a","Test":"TestOne"}
{"Action":"output","Package":"a","Test":"TestOne","Output":"=== RUN   TestOne\n"}
{"Action":"output","Package":"a","Test":"TestOne","Output":"--- PASS: TestOne (0.00s)\n"}
{"Action":"pass","Package":"a","Test":"TestOne","Elapsed":0}
{"Action":"run","Package":"a","Test":"TestDocker"}
{"Action":"output","Package":"a","Test":"TestDocker","Output":"=== RUN   TestDocker\n"}
{"Action":"output","Package":"a","Test":"TestDocker","Output":"    up_test.go:47: Docker is not answering: dial unix\n"}
{"Action":"output","Package":"a","Test":"TestDocker","Output":"--- SKIP: TestDocker (0.00s)\n"}
{"Action":"skip","Package":"a","Test":"TestDocker","Elapsed":0}
{"Action":"run","Package":"a","Test":"TestRelease"}
{"Action":"output","Package":"a","Test":"TestRelease","Output":"    snapshot_test.go:45: inspects a snapshot\n"}
{"Action":"skip","Package":"a","Test":"TestRelease","Elapsed":0}
{"Action":"pass","Package":"a","Elapsed":1.5}
{"Action":"run","Package":"b","Test":"TestBad"}
{"Action":"output","Package":"b","Test":"TestBad","Output":"    b_test.go:9: got 1, want 2\n"}
{"Action":"fail","Package":"b","Test":"TestBad","Elapsed":0}
{"Action":"fail","Package":"b","Elapsed":0.2}
{"Action":"output","Package":"c","Output":"c/c.go:3:1: syntax error\n"}
{"Action":"fail","Package":"c","Elapsed":0}
`

func TestReadCountsAndShowsFailures(t *testing.T) {
	allow := []Allowed{{Package: "a", Test: "TestRel*", Why: "needs a snapshot"}}
	var out bytes.Buffer
	rep, err := Read(strings.NewReader(stream), &out, allow)
	if err != nil {
		t.Fatal(err)
	}
	a := rep.Packages["a"]
	if a.Passed != 1 || a.Skipped != 2 || a.Failed != 0 || a.BuildFailed {
		t.Errorf("package a = %+v, want 1 passed, 2 skipped", *a)
	}
	if b := rep.Packages["b"]; b.Failed != 1 || b.BuildFailed {
		t.Errorf("package b = %+v, want 1 failed test", *b)
	}
	if c := rep.Packages["c"]; !c.BuildFailed {
		t.Errorf("package c = %+v, want a build failure", *c)
	}
	for _, want := range []string{"ok  \ta\t1.5s", "--- FAIL: TestBad (b)", "got 1, want 2", "syntax error", "FAIL\tc"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("progress lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "=== RUN   TestOne") {
		t.Errorf("a passing test's output was printed:\n%s", out.String())
	}
	un := rep.Unexpected()
	if len(un) != 1 || un[0].Test != "TestDocker" || un[0].Reason != "Docker is not answering: dial unix" {
		t.Errorf("unexpected skips = %+v, want TestDocker with its reason", un)
	}
	if rep.OK(false) {
		t.Error("a run with a failed test and a build failure is OK")
	}
}

func TestStrictFailsOnlyOnUnallowedSkips(t *testing.T) {
	const passing = `{"Action":"run","Package":"a","Test":"TestX"}
{"Action":"output","Package":"a","Test":"TestX","Output":"    x_test.go:3: compiles msx from a fresh clone\n"}
{"Action":"skip","Package":"a","Test":"TestX","Elapsed":0}
{"Action":"run","Package":"a","Test":"TestY"}
{"Action":"pass","Package":"a","Test":"TestY","Elapsed":0}
{"Action":"pass","Package":"a","Elapsed":0.1}
`
	rep, err := Read(strings.NewReader(passing), &bytes.Buffer{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK(false) {
		t.Error("not strict: a skip alone should pass")
	}
	if rep.OK(true) {
		t.Error("strict: a skip nobody allowed should fail")
	}
	rep, _ = Read(strings.NewReader(passing), &bytes.Buffer{}, []Allowed{{Package: "a", Test: "TestX", Why: "w"}})
	if !rep.OK(true) {
		t.Error("strict: an allowed skip should pass")
	}
	var sum bytes.Buffer
	rep.Summary(&sum, true)
	last := strings.TrimSpace(sum.String())
	last = last[strings.LastIndexByte(last, '\n')+1:]
	if last != "1 passed, 0 failed, 1 skipped" {
		t.Errorf("closing line = %q", last)
	}
}

func TestSubtestPatterns(t *testing.T) {
	allow := []Allowed{{Package: "p", Test: "TestKinds/*", Why: "w"}}
	if allowedBy(allow, "p", "TestKinds/nats") == nil {
		t.Error("TestKinds/* does not cover TestKinds/nats")
	}
	if allowedBy(allow, "p", "TestKinds") != nil || allowedBy(allow, "q", "TestKinds/nats") != nil {
		t.Error("pattern matched another test or package")
	}
}

func TestACutOffPackageFails(t *testing.T) {
	const cut = `{"Action":"start","Package":"e2e"}
{"Action":"output","Package":"e2e","Output":"panic: test timed out after 75m0s\n"}
`
	var out bytes.Buffer
	rep, _ := Read(strings.NewReader(cut), &out, nil)
	if rep.OK(false) {
		t.Errorf("a package with no result passed:\n%s", out.String())
	}
	if !strings.Contains(out.String(), "test timed out") {
		t.Errorf("the cut-off package's output is not shown:\n%s", out.String())
	}
}

func TestParseAllowlist(t *testing.T) {
	got, err := ParseAllowlist(strings.NewReader("# comment\n\npkg/a TestX  # why not\n"))
	if err != nil || len(got) != 1 || got[0].Why != "why not" {
		t.Fatalf("got %+v, %v", got, err)
	}
	for _, bad := range []string{"pkg TestX\n", "pkg # why\n", "pkg TestX extra # why\n", "pkg Test[ # why\n"} {
		if _, err := ParseAllowlist(strings.NewReader(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}
