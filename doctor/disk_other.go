//go:build !unix && !windows

package doctor

import "errors"

// DiskFree is not known on this system.
func DiskFree(string) (uint64, error) {
	return 0, errors.New("not supported on this system")
}
