package accounts

import (
	"reflect"
	"testing"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp/caddyauth"
	"golang.org/x/crypto/bcrypt"
)

// TestCostOutliers: the users whose hash costs other than the fake hash
// of unknown users are the ones Provision warns about (their failed
// logins take another time than an unknown user's).
func TestCostOutliers(t *testing.T) {
	hash := func(cost int) []byte {
		h, err := bcrypt.GenerateFromPassword([]byte("pw"), cost)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	for _, tc := range []struct {
		name   string
		hashes map[string][]byte
		want   []string
	}{
		{"one cost", map[string][]byte{"alice": hash(4), "bob": hash(4)}, nil},
		{"one user of another cost", map[string][]byte{"alice": hash(4), "bob": hash(4), "carol": hash(5)}, []string{"carol"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake, err := fakeHash("bcrypt", caddyauth.BcryptHash{}, tc.hashes)
			if err != nil {
				t.Fatal(err)
			}
			if got := costOutliers("bcrypt", tc.hashes, fake); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("outliers = %v, want %v", got, tc.want)
			}
		})
	}
}
