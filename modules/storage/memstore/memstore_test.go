package memstore

import (
	"testing"

	"github.com/caddy-pop3/caddy-pop3/modules/storage/storagetest"
)

func TestSuite(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storagetest.Fixture {
		s := New()
		return storagetest.Fixture{
			Store:  s,
			Remove: func(_ *testing.T, user, uid string) { s.Remove(user, uid) },
		}
	})
}
