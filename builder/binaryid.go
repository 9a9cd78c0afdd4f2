package builder

import (
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"io"
	"os"
)

// binaryID names the content of the binary at path, "" when there is none:
// the Go build ID from its ELF note (a hash of what went into it, read
// without reading the file), or, for a file that carries none, a hash of
// its bytes.
func binaryID(path string) string {
	if f, err := elf.Open(path); err == nil {
		defer f.Close()
		if id := goBuildID(f); id != "" {
			return "go:" + id
		}
	}
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return ""
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// goBuildID reads the ".note.go.buildid" note the Go linker writes: name
// size, description size, type, the name "Go\x00\x00", then the ID.
func goBuildID(f *elf.File) string {
	s := f.Section(".note.go.buildid")
	if s == nil {
		return ""
	}
	data, err := s.Data()
	if err != nil || len(data) < 16 {
		return ""
	}
	order := f.ByteOrder
	namesz, descsz := order.Uint32(data[0:]), order.Uint32(data[4:])
	start := 12 + (uint64(namesz)+3)&^3
	end := start + uint64(descsz)
	if namesz != 4 || string(data[12:15]) != "Go\x00" || end > uint64(len(data)) {
		return ""
	}
	return string(data[start:end])
}
