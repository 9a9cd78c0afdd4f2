// Command msx scaffolds Go microservices and runs them locally in Docker.
package main

import (
	"os"

	"github.com/msx-dev/msx/cmd"
	"github.com/msx-dev/msx/internal/termquery"
)

func main() {
	termquery.Restore()
	os.Exit(cmd.Main())
}
