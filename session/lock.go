package session

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"time"

	"github.com/msx-dev/msx/msxerr"
)

// LockFile is the workspace lock, under .msx/: held while a plan is
// applied (by up) or the project removed (by down), so that two of them in
// one workspace never race on the engine (a container-name conflict, two
// networks of one name).
const LockFile = ".msx/lock"

// lockPoll is how often a waiting Lock tries again.
const lockPoll = 50 * time.Millisecond

// Lock takes the workspace lock of dir, waiting while another msx holds
// it. waiting is called once, if it must wait, so the user knows why
// nothing happens. The lock is released by the returned function, and by
// the kernel if msx dies: a killed msx never leaves it held.
func Lock(ctx context.Context, dir string, waiting func()) (unlock func(), err error) {
	path := filepath.Join(dir, LockFile)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, msxerr.Wrap(err, "check the permissions of the workspace's .msx folder", "cannot create %s", filepath.Dir(path))
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, msxerr.Wrap(err, "check the permissions of the workspace's .msx folder", "cannot open the workspace lock %s", path)
	}
	told := false
	for {
		err := tryLock(f)
		if err == nil {
			return func() { unlockFile(f); f.Close() }, nil
		}
		if !errors.Is(err, errLocked) {
			f.Close()
			return nil, msxerr.Wrap(err, "check the file system of the workspace", "cannot lock the workspace (%s)", path)
		}
		if !told && waiting != nil {
			waiting()
			told = true
		}
		t := time.NewTimer(lockPoll)
		select {
		case <-ctx.Done():
			t.Stop()
			f.Close()
			return nil, msxerr.ErrCancelled
		case <-t.C:
		}
	}
}

var errLocked = errors.New("locked")
