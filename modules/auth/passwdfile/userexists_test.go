package passwdfile

import (
	"context"
	"path/filepath"
	"testing"
	"time"
)

func TestUserExists(t *testing.T) {
	path := filepath.Join(t.TempDir(), "passwd")
	writeFile(t, path, "alice:{PLAIN}secret\nbob@example.com:{PLAIN}x\n", time.Now())
	p, _, _ := newModule(t, path)
	for _, tt := range []struct {
		user string
		want bool
	}{{"alice", true}, {"bob@example.com", true}, {"carol", false}, {"", false}} {
		got, err := p.UserExists(context.Background(), tt.user)
		if err != nil || got != tt.want {
			t.Errorf("UserExists(%q) = %v, %v; want %v", tt.user, got, err, tt.want)
		}
	}
}
