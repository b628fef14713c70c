package sql

import (
	"context"
	"testing"
)

func TestUserExists(t *testing.T) {
	s, _ := newSQL(t, map[string]*string{"alice": ptr("{PLAIN}secret")})
	for _, tt := range []struct {
		user string
		want bool
	}{{"alice", true}, {"bob", false}} {
		got, err := s.UserExists(context.Background(), tt.user)
		if err != nil || got != tt.want {
			t.Errorf("UserExists(%q) = %v, %v; want %v", tt.user, got, err, tt.want)
		}
	}
}
