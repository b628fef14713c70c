package passwdfile

import (
	"encoding/base64"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/go-crypt/crypt/algorithm"
	"github.com/go-crypt/crypt/algorithm/argon2"
	"github.com/go-crypt/crypt/algorithm/md5crypt"
	"github.com/go-crypt/crypt/algorithm/shacrypt"
	xbcrypt "golang.org/x/crypto/bcrypt"
)

// Hashes of "secret" made by other programs, to check compatibility.
const (
	// doveadm pw -s <SCHEME> -p secret (Dovecot 2.3.19.1, Debian 12).
	doveSHA512      = "{SHA512-CRYPT}$6$JW2HrMh4pw0O/kkI$SV0F2owYOrnAHg5QFVQCNSxDn7iueN.lmCNC3jNeYy70CCdvTaMcmAGE.VdYel1PNdzimhOI8XD/hLXoTna6T0"
	doveSHA512R1000 = "{SHA512-CRYPT}$6$rounds=1000$4fX49vacLkcNB.1L$PW0QVaYpW.HE2EKKxTkN/4xHOopFAOrKzUw.fgkynlfIRmx8avY1I86FhYS8bTPbU35nLXf26a4v6r7UIwMfV1"
	doveSHA256      = "{SHA256-CRYPT}$5$0gvSaWD/vz6x7f7U$wdvyGx9uhWk0VlStXarlgO76mvqgsVXYhv3yQ.cL3x2"
	doveBLF         = "{BLF-CRYPT}$2y$05$K1pHwtNBYReI8UVAnjjXQ.kdnEhiewt1LboE0/ln/z7NAajcPmfU6"
	doveCRYPT       = "{CRYPT}$2y$05$Mer6wE77shoT0Ohch6eAx.ZqI0I8Wtc7wtpQcPVy9tBiia.ElVafS"
	doveMD5         = "{MD5-CRYPT}$1$YV.ZiBRN$1x2yPB32QTZRI8jhgTS/i/"
	doveARGON2ID    = "{ARGON2ID}$argon2id$v=19$m=65536,t=3,p=1$xN8tHUr403Ww0RL2Jxzz+A$jfDbZD3/Yeyz+9mW57v1tNI4beieLYTUjLLziabZCT4"
	doveARGON2I     = "{ARGON2I}$argon2i$v=19$m=32768,t=4,p=1$IL60wIhPw/J0HRqSCqTV/w$rbNkIU5PMiu4DemfG6eSosz2NOKbBTGDPL4Be6ga3nw"
	dovePLAINB64    = "{PLAIN.BASE64}c2VjcmV0"
	doveSHA256HEX   = "{SHA256-CRYPT.HEX}24352446494a4a446748624b4543715230533824334362533778795979774838416371356c2e763531664b65694d68505779304362674d4e32726c41464a36"

	// crypt(3) of libxcrypt 4.4.33 (Debian 12), through Python's crypt
	// module, with fixed salts.
	libcSHA512   = "$6$saltsaltsaltsalt$ph0yGsyjzqdeFaon7.gJZo8eAG5/rj9/JdzOu1Rl7dKzBYg3xgvl7T2VQ2Rt81bc5AXkdA54r0p8QvC1omD6R1"
	libcSHA256   = "$5$saltsaltsaltsalt$X0ra9qlY7TJaGBDgorLevriQfwysW8fXnbybcO4mF4/"
	libcMD5      = "$1$saltsalt$9xy1btjgzLYfb7hivXtC//"
	libcBcrypt   = "$2b$04$abcdefghijklmnopqrstuu2r9OfJnfCsdneAXAGHnS4UpFFP8WIrW"
	libcYescrypt = "$y$j75$k2XAnEHBqQ1Ct2aMXFKNa/$Tg4ZRR7tz/WRlmYbADZh9OJYakPewgSPQqW55EXAJ14" // crypt_gensalt("$y$", 1, ...): lowest cost
)

// mustHash returns the encoded digest of password made by a go-crypt
// hasher, failing the test on error.
func mustHash(t *testing.T, h algorithm.Hash, err error, password string) string {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	d, err := h.Hash(password)
	if err != nil {
		t.Fatal(err)
	}
	return d.Encode()
}

// lowCostBcrypt returns a bcrypt hash of password of the lowest cost.
func lowCostBcrypt(t *testing.T, password string) string {
	t.Helper()
	h, err := xbcrypt.GenerateFromPassword([]byte(password), xbcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return string(h)
}

func TestParsePassword(t *testing.T) {
	sha512Hasher, s5Err := shacrypt.New(shacrypt.WithVariant(shacrypt.VariantSHA512), shacrypt.WithIterations(1000))
	sha256Hasher, s2Err := shacrypt.New(shacrypt.WithVariant(shacrypt.VariantSHA256), shacrypt.WithIterations(1000))
	md5Hasher, mErr := md5crypt.New()
	argon2idHasher, aidErr := argon2.New(argon2.WithVariant(argon2.VariantID), argon2.WithM(64), argon2.WithT(1), argon2.WithP(1))
	argon2iHasher, aiErr := argon2.New(argon2.WithVariant(argon2.VariantI), argon2.WithM(64), argon2.WithT(1), argon2.WithP(1))

	// go-crypt makes bcrypt hashes of cost 10 and up only: too slow here.
	genBcrypt := lowCostBcrypt(t, "s3cr3t")
	genSHA512 := mustHash(t, sha512Hasher, s5Err, "s3cr3t")

	tests := []struct {
		name     string
		field    string
		password string // the right password
		scheme   string
		plain    bool
	}{
		// Made here with go-crypt.
		{"generated BLF-CRYPT", "{BLF-CRYPT}" + genBcrypt, "s3cr3t", "BLF-CRYPT", false},
		{"generated bcrypt with no scheme", genBcrypt, "s3cr3t", "CRYPT", false},
		{"generated $2y$ bcrypt", "{BLF-CRYPT}$2y$" + genBcrypt[len("$2a$"):], "s3cr3t", "BLF-CRYPT", false},
		{"generated SHA512-CRYPT", "{SHA512-CRYPT}" + genSHA512, "s3cr3t", "SHA512-CRYPT", false},
		{"generated SHA512-CRYPT, no scheme", genSHA512, "s3cr3t", "CRYPT", false},
		{"generated SHA256-CRYPT", "{SHA256-CRYPT}" + mustHash(t, sha256Hasher, s2Err, "s3cr3t"), "s3cr3t", "SHA256-CRYPT", false},
		{"generated MD5-CRYPT", "{MD5-CRYPT}" + mustHash(t, md5Hasher, mErr, "s3cr3t"), "s3cr3t", "MD5-CRYPT", false},
		{"generated ARGON2ID", "{ARGON2ID}" + mustHash(t, argon2idHasher, aidErr, "s3cr3t"), "s3cr3t", "ARGON2ID", false},
		{"generated ARGON2I", "{ARGON2I}" + mustHash(t, argon2iHasher, aiErr, "s3cr3t"), "s3cr3t", "ARGON2I", false},
		{"generated SHA512-CRYPT, hex", "{SHA512-CRYPT.HEX}" + hex.EncodeToString([]byte(genSHA512)), "s3cr3t", "SHA512-CRYPT", false},
		{"generated BLF-CRYPT, base64", "{BLF-CRYPT.B64}" + base64.StdEncoding.EncodeToString([]byte(genBcrypt)), "s3cr3t", "BLF-CRYPT", false},

		// Plain text.
		{"PLAIN", "{PLAIN}s3cr3t", "s3cr3t", "PLAIN", true},
		{"CLEAR", "{CLEAR}s3cr3t", "s3cr3t", "CLEAR", true},
		{"CLEARTEXT", "{CLEARTEXT}s3cr3t", "s3cr3t", "CLEARTEXT", true},
		{"scheme names are case-insensitive", "{plain}s3cr3t", "s3cr3t", "PLAIN", true},
		{"PLAIN with spaces and braces", "{PLAIN}a b{c}", "a b{c}", "PLAIN", true},
		{"PLAIN.B64 with a colon", "{PLAIN.B64}c2VjOnJldA==", "sec:ret", "PLAIN", true},
		{"PLAIN.HEX", "{PLAIN.HEX}" + hex.EncodeToString([]byte("s3cr3t")), "s3cr3t", "PLAIN", true},

		// Made by doveadm pw.
		{"doveadm SHA512-CRYPT", doveSHA512, "secret", "SHA512-CRYPT", false},
		{"doveadm SHA512-CRYPT -r 1000", doveSHA512R1000, "secret", "SHA512-CRYPT", false},
		{"doveadm SHA256-CRYPT", doveSHA256, "secret", "SHA256-CRYPT", false},
		{"doveadm BLF-CRYPT", doveBLF, "secret", "BLF-CRYPT", false},
		{"doveadm CRYPT", doveCRYPT, "secret", "CRYPT", false},
		{"doveadm MD5-CRYPT", doveMD5, "secret", "MD5-CRYPT", false},
		{"doveadm ARGON2ID", doveARGON2ID, "secret", "ARGON2ID", false},
		{"doveadm ARGON2I", doveARGON2I, "secret", "ARGON2I", false},
		{"doveadm PLAIN.BASE64", dovePLAINB64, "secret", "PLAIN", true},
		{"doveadm SHA256-CRYPT.HEX", doveSHA256HEX, "secret", "SHA256-CRYPT", false},

		// Made by libc's crypt(3), with no scheme as in /etc/shadow.
		{"crypt SHA512", libcSHA512, "secret", "CRYPT", false},
		{"crypt SHA256", libcSHA256, "secret", "CRYPT", false},
		{"crypt MD5", libcMD5, "secret", "CRYPT", false},
		{"crypt bcrypt", libcBcrypt, "secret", "CRYPT", false},
		{"crypt yescrypt", libcYescrypt, "secret", "CRYPT", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pw, err := parsePassword(tt.field)
			if err != nil {
				t.Fatalf("parsePassword: %v", err)
			}
			if pw.scheme != tt.scheme {
				t.Errorf("scheme = %q, want %q", pw.scheme, tt.scheme)
			}
			if !pw.digest.Match(tt.password) {
				t.Errorf("the right password %q does not match", tt.password)
			}
			for _, wrong := range []string{tt.password + "x", strings.ToUpper(tt.password)} {
				if pw.digest.Match(wrong) {
					t.Errorf("the wrong password %q matches", wrong)
				}
			}
			if pw.hasPlain != tt.plain || (tt.plain && pw.plain != tt.password) {
				t.Errorf("plain = %q, %v; want %q, %v", pw.plain, pw.hasPlain, tt.password, tt.plain)
			}
		})
	}
}

// TestKnownVector checks go-crypt against libc's crypt(3) both ways: the
// hash libc made checks out, and go-crypt makes the same hash from the
// same salt.
func TestKnownVector(t *testing.T) {
	tests := []struct {
		name    string
		variant shacrypt.Variant
		salt    string
		want    string
	}{
		{"SHA512-CRYPT", shacrypt.VariantSHA512, "saltsaltsaltsalt", libcSHA512},
		{"SHA256-CRYPT", shacrypt.VariantSHA256, "saltsaltsaltsalt", libcSHA256},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, err := shacrypt.New(shacrypt.WithVariant(tt.variant), shacrypt.WithIterations(shacrypt.IterationsDefaultOmitted))
			if err != nil {
				t.Fatal(err)
			}
			d, err := h.HashWithSalt("secret", []byte(tt.salt))
			if err != nil {
				t.Fatal(err)
			}
			if got := d.Encode(); got != tt.want {
				t.Errorf("go-crypt hash = %s\nlibc hash     = %s", got, tt.want)
			}
			pw, err := parsePassword("{" + tt.name + "}" + tt.want)
			if err != nil {
				t.Fatal(err)
			}
			if !pw.digest.Match("secret") {
				t.Error("the libc hash does not match its password")
			}
		})
	}
}

func TestParsePasswordErrors(t *testing.T) {
	tests := []struct {
		name  string
		field string
		want  string // a part of the error
	}{
		{"empty", "", "no password"},
		{"empty PLAIN", "{PLAIN}", "{PLAIN}: empty password"},
		{"no closing brace", "{SHA512-CRYPT$6$abc", "no closing }"},
		{"empty scheme", "{}hunter2", "empty scheme {}"},
		{"unknown scheme", "{ROT13}uhagre2", "unknown scheme {ROT13}"},
		{"unsupported scheme", "{SSHA512}aHVudGVyMg==", "scheme {SSHA512} is not supported"},
		{"DES-CRYPT", "{DES-CRYPT}abJnggxhB/yJU", "scheme {DES-CRYPT} is not supported"},
		{"plain text with no scheme", "hunter2", "traditional DES crypt is not supported"},
		{"unknown encoding", "{PLAIN.ROT13}uhagre2", `unknown encoding "ROT13"`},
		{"bad hex", "{PLAIN.HEX}zz", "invalid hex encoding"},
		{"bad base64", "{PLAIN.B64}!!!", "invalid base64 encoding"},
		{"scheme and hash disagree", "{SHA512-CRYPT}" + libcBcrypt, "SHA512-CRYPT hashes start with $6$, not $2b$"},
		{"BLF-CRYPT given SHA-512", "{BLF-CRYPT}" + libcSHA512, "BLF-CRYPT hashes start with"},
		{"ARGON2ID given argon2i", "{ARGON2ID}" + strings.TrimPrefix(doveARGON2I, "{ARGON2I}"), "ARGON2ID hashes start with $argon2id$, not $argon2i$"},
		{"CRYPT with an unknown id", "$7$CU..../....abc$xyz", "unsupported crypt hash type $7$"},
		{"not a crypt hash", "{SHA512-CRYPT}hunter2", "malformed SHA512-CRYPT hash: not a $id$ crypt hash"},
		{"truncated SHA512-CRYPT", strings.TrimSuffix(doveSHA512, "a6T0"), "malformed SHA512-CRYPT hash: the hash part has 82 characters, want 86"},
		{"SHA512-CRYPT with no hash part", "{SHA512-CRYPT}$6$saltsalt$", "malformed SHA512-CRYPT hash"},
		{"SHA512-CRYPT with too few rounds", "{SHA512-CRYPT}$6$rounds=10$saltsalt$" + strings.Repeat("a", 86), "malformed SHA512-CRYPT hash: provided encoded hash has an invalid option value"},
		{"truncated bcrypt", strings.TrimSuffix(doveBLF, "fU6"), "malformed BLF-CRYPT hash"},
		{"bcrypt cost out of range", "{BLF-CRYPT}$2y$99$" + doveBLF[len("{BLF-CRYPT}$2y$05$"):], "malformed BLF-CRYPT hash"},
		{"argon2id with no key", "{ARGON2ID}$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$", "malformed ARGON2ID hash"},
		{"argon2id with bad base64", "{ARGON2ID}$argon2id$v=19$m=64,t=1,p=1$c2F!dHNhbHQ$a2V5a2V5", "malformed ARGON2ID hash"},
		{"argon2id with t=0", "{ARGON2ID}$argon2id$v=19$m=64,t=0,p=1$c2FsdHNhbHQ$a2V5a2V5", "malformed ARGON2ID hash"},
		{"bad hex of a crypt hash", "{SHA256-CRYPT.HEX}" + strings.Repeat("4", 9), "invalid hex encoding"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pw, err := parsePassword(tt.field)
			if err == nil {
				t.Fatalf("parsePassword succeeded (scheme %s), want an error containing %q", pw.scheme, tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error = %q, want it to contain %q", err, tt.want)
			}
			// The error goes to the log: it must not quote the secret.
			if _, secret, ok := strings.Cut(tt.field, "}"); ok && len(secret) > 3 && strings.Contains(err.Error(), secret) {
				t.Errorf("error %q quotes the password field", err)
			}
			if strings.HasPrefix(tt.field, "$") && strings.Contains(err.Error(), tt.field) {
				t.Errorf("error %q quotes the password field", err)
			}
		})
	}
}

func TestCostClass(t *testing.T) {
	tests := []struct {
		hash, want string
	}{
		{libcSHA512, "$6"},
		{"$6$rounds=1000$saltsalt$key", "$6$rounds=1000"},
		{libcMD5, "$1"},
		{libcBcrypt, "$2b$04"},
		{libcYescrypt, "$y$j75"},
		{strings.TrimPrefix(doveARGON2ID, "{ARGON2ID}"), "$argon2id$v=19$m=65536,t=3,p=1"},
	}
	for _, tt := range tests {
		if got := costClass(strings.Split(tt.hash, "$")); got != tt.want {
			t.Errorf("costClass(%s) = %q, want %q", tt.hash, got, tt.want)
		}
	}
}
