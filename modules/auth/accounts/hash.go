package accounts

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/caddyserver/caddy/v2/modules/caddyhttp/caddyauth"
	"golang.org/x/crypto/bcrypt"

	"github.com/caddy-pop3/caddy-pop3/modules/auth"
)

// bcryptAlphabet is the base64 alphabet bcrypt encodes salts and hashes in.
const bcryptAlphabet = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// bcryptHashLen is the length of a bcrypt hash: "$2a$", two cost digits,
// "$", then 22 characters of salt and 31 of hash.
const bcryptHashLen = 60

// argon2MinKeyLen is the shortest argon2 tag RFC 9106 allows. An empty key
// would match every password, so this check is a safety one.
const argon2MinKeyLen = 4

// fakePassword is what the fake hash of an unknown user is a hash of. It
// does not matter: the answer for an unknown user is always no.
const fakePassword = "caddy-pop3 timing equaliser"

// checkHash reports whether hash is a well-formed hash for the algorithm,
// for the algorithms whose format is known: bcrypt and argon2id. Hashes of
// other algorithms are taken as they are.
func checkHash(algorithm, hash string) error {
	switch algorithm {
	case "bcrypt":
		_, err := bcryptCost(hash)
		return err
	case "argon2id":
		_, err := argon2Params(hash)
		return err
	}
	return nil
}

// bcryptCost checks a bcrypt hash and returns its cost.
func bcryptCost(hash string) (int, error) {
	if !strings.HasPrefix(hash, "$2a$") && !strings.HasPrefix(hash, "$2b$") && !strings.HasPrefix(hash, "$2y$") {
		return 0, errors.New("not a bcrypt hash (want $2a$, $2b$ or $2y$...)")
	}
	if len(hash) != bcryptHashLen {
		return 0, fmt.Errorf("malformed bcrypt hash: %d characters, want %d", len(hash), bcryptHashLen)
	}
	if i := strings.LastIndexByte(hash, '$'); strings.Trim(hash[i+1:], bcryptAlphabet) != "" {
		return 0, errors.New("malformed bcrypt hash: invalid character in salt or hash")
	}
	cost, err := bcrypt.Cost([]byte(hash))
	if err != nil {
		return 0, fmt.Errorf("malformed bcrypt hash: %v", err)
	}
	return cost, nil
}

// argon2Params checks an argon2id hash in the format Caddy writes,
// $argon2id$v=19$m=<KiB>,t=<iterations>,p=<threads>$<salt>$<key>, and
// returns its cost: everything but the salt, and the key length.
func argon2Params(hash string) (string, error) {
	if !strings.HasPrefix(hash, "$argon2id$") {
		return "", errors.New("not an argon2id hash (want $argon2id$...)")
	}
	if _, _, err := caddyauth.DecodeHash([]byte(hash)); err != nil {
		return "", fmt.Errorf("malformed argon2id hash: %v", err)
	}
	// DecodeHash accepted it, so there are six parts and three numbers.
	parts := strings.Split(hash, "$")
	var m, t, p uint64
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil {
		return "", fmt.Errorf("malformed argon2id hash: parameters %q: %v", parts[3], err)
	}
	if t < 1 || p < 1 {
		return "", fmt.Errorf("malformed argon2id hash: t and p must be at least 1, got t=%d p=%d", t, p)
	}
	// The key is unpadded base64: 4 characters for every 3 bytes.
	keyLen := len(parts[5]) * 3 / 4
	if keyLen < argon2MinKeyLen {
		return "", fmt.Errorf("malformed argon2id hash: key of %d bytes is too short", keyLen)
	}
	return fmt.Sprintf("%s$%s$%s$%d", parts[1], parts[2], parts[3], keyLen), nil
}

// costOf returns what decides how long checking a password against hash
// takes, as a comparable string, or "" for algorithms it does not know.
func costOf(algorithm, hash string) string {
	switch algorithm {
	case "bcrypt":
		if cost, err := bcryptCost(hash); err == nil {
			return fmt.Sprintf("bcrypt$%d", cost)
		}
	case "argon2id":
		if params, err := argon2Params(hash); err == nil {
			return params
		}
	}
	return ""
}

// fakeHash returns the hash an unknown user's password is compared with. It
// costs what most accounts' hashes cost, so that timing does not tell an
// unknown user from a wrong password: the hash module's own FakeHash when
// its cost is that one, otherwise a hash made with the same parameters.
func fakeHash(algorithm string, comparer caddyauth.Comparer, hashes map[string][]byte) ([]byte, error) {
	// Find the most common cost, and a hash that has it; go through the
	// users in order so that the choice is the same at every load.
	users := make([]string, 0, len(hashes))
	for user := range hashes {
		users = append(users, user)
	}
	sort.Strings(users)
	count := make(map[string]int)
	var common string
	var sample []byte
	for _, user := range users {
		c := costOf(algorithm, string(hashes[user]))
		count[c]++
		if sample == nil || count[c] > count[common] {
			common, sample = c, hashes[user]
		}
	}

	hasher, isHasher := comparer.(caddyauth.Hasher)
	if isHasher && costOf(algorithm, string(hasher.FakeHash())) == common {
		return hasher.FakeHash(), nil
	}
	switch algorithm {
	case "bcrypt":
		cost, _ := bcryptCost(string(sample))
		fake, err := bcrypt.GenerateFromPassword([]byte(fakePassword), cost)
		if err != nil {
			return nil, fmt.Errorf("making a fake bcrypt hash: %v", err)
		}
		return fake, nil
	case "argon2id":
		// DecodeHash returns a hasher with the sample's parameters.
		params, _, err := caddyauth.DecodeHash(sample)
		if err != nil {
			return nil, fmt.Errorf("making a fake argon2id hash: %v", err)
		}
		fake, err := params.Hash([]byte(fakePassword))
		if err != nil {
			return nil, fmt.Errorf("making a fake argon2id hash: %v", err)
		}
		return fake, nil
	}
	if isHasher {
		return hasher.FakeHash(), nil
	}
	// A hash module that cannot make a fake hash: compare with a real
	// account's hash, whose cost is right. Authenticate ignores the result.
	return sample, nil
}

// costOutliers returns the users whose hash costs something else than
// fake, the hash unknown users are checked against (see
// auth.TimingOutliers); none for algorithms whose cost it cannot read.
func costOutliers(algorithm string, hashes map[string][]byte, fake []byte) []string {
	common := costOf(algorithm, string(fake))
	if common == "" {
		return nil
	}
	classes := make(map[string]string, len(hashes))
	for user, h := range hashes {
		classes[user] = costOf(algorithm, string(h))
	}
	return auth.TimingOutliers(classes, common)
}
