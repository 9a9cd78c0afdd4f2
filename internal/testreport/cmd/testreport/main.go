// Command testreport reads `go test -json` on standard input, prints each
// package's outcome and every failure as they come, then a table of what ran
// and was skipped per package and the closing line "N passed, N failed, N
// skipped". It exits non-zero when a test failed, a package did not build,
// or, with -strict, a test skipped that the allowlist does not name.
//
//	go test -json ./... | go run ./internal/testreport/cmd/testreport -allow scripts/test-skips.txt -strict
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/msx-dev/msx/internal/testreport"
)

func main() { os.Exit(run()) }

func run() int {
	allowFile := flag.String("allow", "", "file of intended skips (PACKAGE TEST  # why)")
	strict := flag.Bool("strict", false, "fail on any skip the allowlist does not name")
	flag.Parse()
	var allow []testreport.Allowed
	if *allowFile != "" {
		f, err := os.Open(*allowFile)
		if err != nil {
			fmt.Fprintf(os.Stderr, "testreport: %v\n", err)
			return 2
		}
		allow, err = testreport.ParseAllowlist(f)
		f.Close()
		if err != nil {
			fmt.Fprintf(os.Stderr, "testreport: %v\n", err)
			return 2
		}
	}
	rep, err := testreport.Read(os.Stdin, os.Stdout, allow)
	if err != nil {
		fmt.Fprintf(os.Stderr, "testreport: %v\n", err)
		return 2
	}
	rep.Summary(os.Stdout, *strict)
	if !rep.OK(*strict) {
		if *strict && len(rep.Unexpected()) > 0 {
			fmt.Fprintf(os.Stdout, "%d test(s) skipped that must run under CI: see NOT ALLOWED above; fix what they need, or add them to the allowlist with a reason\n", len(rep.Unexpected()))
		}
		return 1
	}
	return 0
}
