package accounts

import (
	"context"
	"testing"
)

func TestUserExists(t *testing.T) {
	a := &Accounts{AccountList: []Account{{Username: "alice", Password: bcryptHash(t, "wonderland")}}}
	if err := provision(t, a); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		user string
		want bool
	}{{"alice", true}, {"Alice", false}, {"bob", false}, {"", false}} {
		got, err := a.UserExists(context.Background(), tt.user)
		if err != nil || got != tt.want {
			t.Errorf("UserExists(%q) = %v, %v; want %v", tt.user, got, err, tt.want)
		}
	}
}
