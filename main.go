// Command msx scaffolds Go microservices and runs them locally in Docker.
package main

import (
	"os"

	"github.com/msx-dev/msx/cmd"
)

func main() {
	os.Exit(cmd.Main())
}
