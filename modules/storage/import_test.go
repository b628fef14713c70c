package storage

import (
	"context"
	"errors"
	"io"
	"testing"
)

// listStore is a Store whose maildrops list fixed messages.
type listStore struct {
	msgs  []Message
	opens int
}

func (s *listStore) Open(context.Context, string) (Maildrop, error) {
	s.opens++
	return listMaildrop(s.msgs), nil
}

type listMaildrop []Message

func (m listMaildrop) Messages() []Message                              { return m }
func (m listMaildrop) Open(context.Context, int) (io.ReadCloser, error) { return nil, ErrNoSuchMessage }
func (m listMaildrop) Commit(context.Context, []int) error              { return nil }
func (m listMaildrop) Close() error                                     { return nil }

func TestImportIndex(t *testing.T) {
	st := &listStore{msgs: []Message{{UID: "a", Size: 10}}}
	var x *ImportIndex
	idx := IndexOf(&x)
	ctx := context.Background()
	if _, err := idx.Reserve(ctx, st, "u", "a", 10); !errors.Is(err, ErrUIDLExists) {
		t.Errorf("same UIDL and size: %v, want ErrUIDLExists", err)
	}
	if _, err := idx.Reserve(ctx, st, "u", "a", 11); !errors.Is(err, ErrUIDLConflict) {
		t.Errorf("same UIDL, other size: %v, want ErrUIDLConflict", err)
	}
	done, err := idx.Reserve(ctx, st, "u", "b", 5)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := idx.Reserve(ctx, st, "u", "b", 5); !errors.Is(err, ErrUIDLExists) {
		t.Errorf("reserved UIDL: %v, want ErrUIDLExists", err)
	}
	done(false) // the import failed: the UIDL is free again
	done, err = idx.Reserve(ctx, st, "u", "b", 5)
	if err != nil {
		t.Fatalf("UIDL given back: %v", err)
	}
	done(true)
	if st.opens != 1 {
		t.Errorf("the maildrop was listed %d times, want once", st.opens)
	}
	if IndexOf(&x) != idx {
		t.Error("IndexOf made a second index")
	}
}

func TestValidUIDL(t *testing.T) {
	for _, tt := range []struct {
		s  string
		ok bool
	}{{"a", true}, {"00000001507c1b3a", true}, {"", false}, {"a b", false}, {"\x7f", false}, {string(make([]byte, 71)), false}} {
		if got := ValidUIDL(tt.s); got != tt.ok {
			t.Errorf("ValidUIDL(%q) = %v, want %v", tt.s, got, tt.ok)
		}
	}
}
