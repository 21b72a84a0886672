package static

import (
	"io/fs"
	"testing/fstest"
)

func fstestFS(m map[string]string) fs.FS {
	fsys := fstest.MapFS{}
	for name, body := range m {
		fsys[name] = &fstest.MapFile{Data: []byte(body)}
	}
	return fsys
}
