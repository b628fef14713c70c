package passwdfile

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/go-crypt/crypt"
	"github.com/go-crypt/crypt/algorithm"
	"github.com/go-crypt/crypt/algorithm/argon2"
	"github.com/go-crypt/crypt/algorithm/bcrypt"
	"github.com/go-crypt/crypt/algorithm/md5crypt"
	"github.com/go-crypt/crypt/algorithm/plaintext"
	"github.com/go-crypt/crypt/algorithm/scrypt"
	"github.com/go-crypt/crypt/algorithm/shacrypt"
)

// password is a decoded password field of a passwd-file line.
type password struct {
	// digest checks a password.
	digest algorithm.Digest
	// scheme is the Dovecot scheme name, upper case, without encoding.
	scheme string
	// plain is the password itself for PLAIN and CLEAR users, for APOP.
	plain    string
	hasPlain bool
	// cost tells apart hashes that take different times to check; see
	// costClass.
	cost string
}

// cryptIDs lists, for each Dovecot crypt scheme, the crypt(3) identifiers
// ($<id>$...) its hashes may have. CRYPT, Dovecot's default scheme, is
// libc's crypt(): any of them.
var cryptIDs = map[string][]string{
	"BLF-CRYPT":    {"2", "2a", "2b", "2x", "2y"},
	"SHA512-CRYPT": {"6"},
	"SHA256-CRYPT": {"5"},
	"MD5-CRYPT":    {"1"},
	"ARGON2ID":     {"argon2id"},
	"ARGON2I":      {"argon2i"},
	"CRYPT":        {"2", "2a", "2b", "2x", "2y", "6", "5", "1", "y"},
}

// cryptKeyLen is the length of the encoded key of the SHA-crypt and
// MD5-crypt hashes, which go-crypt does not check when decoding.
var cryptKeyLen = map[string]int{"6": 86, "5": 43, "1": 22}

// plainSchemes are the Dovecot names of the plain-text scheme.
var plainSchemes = map[string]bool{"PLAIN": true, "CLEAR": true, "CLEARTEXT": true}

// unsupportedSchemes are Dovecot schemes this module cannot check.
var unsupportedSchemes = map[string]bool{
	"DES-CRYPT": true, "SHA": true, "SHA1": true, "SSHA": true,
	"SHA256": true, "SSHA256": true, "SHA512": true, "SSHA512": true,
	"MD5": true, "SMD5": true, "PLAIN-MD4": true, "PLAIN-MD5": true,
	"LDAP-MD5": true, "PLAIN-TRUNC": true, "CRAM-MD5": true,
	"HMAC-MD5": true, "DIGEST-MD5": true, "SCRAM-SHA-1": true,
	"SCRAM-SHA-256": true, "PBKDF2": true, "OTP": true, "SKEY": true,
	"RPA": true, "LANMAN": true, "NTLM": true,
}

// decoder decodes every crypt(3)-style hash this module knows.
var decoder = func() *crypt.Decoder {
	d := crypt.NewDecoder()
	for _, register := range []func(algorithm.DecoderRegister) error{
		bcrypt.RegisterDecoderStandard,
		shacrypt.RegisterDecoder,
		md5crypt.RegisterDecoderCommon,
		argon2.RegisterDecoderArgon2id,
		argon2.RegisterDecoderArgon2i,
		scrypt.RegisterDecoderYescrypt,
	} {
		if err := register(d); err != nil {
			panic("passwdfile: registering a go-crypt decoder: " + err.Error())
		}
	}
	return d
}()

// decodeSentinels are go-crypt's decoding errors, whose messages do not
// quote the hash; only these are shown in logs.
var decodeSentinels = []error{
	algorithm.ErrEncodedHashInvalidFormat,
	algorithm.ErrEncodedHashInvalidIdentifier,
	algorithm.ErrEncodedHashInvalidVersion,
	algorithm.ErrEncodedHashInvalidOptionKey,
	algorithm.ErrEncodedHashInvalidOptionValue,
	algorithm.ErrEncodedHashInvalidOption,
	algorithm.ErrEncodedHashKeyEncoding,
	algorithm.ErrEncodedHashSaltEncoding,
}

// defaultScheme is the scheme of a password without {SCHEME} when the
// configuration names none: Dovecot's default for passwd-file.
const defaultScheme = "CRYPT"

// parsePassword decodes the password field of a passwd-file line:
// {SCHEME}hash, {SCHEME.ENCODING}hash, or a bare crypt(3) hash (Dovecot's
// default scheme for passwd-file is CRYPT). Its errors never contain the
// field's text, which is secret.
func parsePassword(field string) (*password, error) {
	return parsePasswordDefault(field, defaultScheme)
}

// parsePasswordDefault is parsePassword with def, a scheme checked by
// CheckScheme, as the scheme of a field without {SCHEME} (Dovecot's
// passwd-file argument scheme=).
func parsePasswordDefault(field, def string) (*password, error) {
	if field == "" {
		return nil, errors.New("no password")
	}
	scheme, value := def, field
	if strings.HasPrefix(field, "{") {
		end := strings.IndexByte(field, '}')
		if end < 0 {
			return nil, errors.New("password starts with { but has no closing } after the scheme")
		}
		scheme, value = strings.ToUpper(field[1:end]), field[end+1:]
	}

	// Dovecot's encoding suffix: {SCHEME.HEX}, {SCHEME.B64}, {SCHEME.BASE64}.
	if name, enc, ok := strings.Cut(scheme, "."); ok {
		decoded, err := decodeEncoding(enc, value)
		if err != nil {
			return nil, fmt.Errorf("{%s}: %v", scheme, err)
		}
		scheme, value = name, decoded
	}

	switch {
	case plainSchemes[scheme]:
		if value == "" {
			return nil, fmt.Errorf("{%s}: empty password", scheme)
		}
		d := plaintext.NewDigest(value)
		return &password{digest: &d, scheme: scheme, plain: value, hasPlain: true, cost: "PLAIN"}, nil
	case cryptIDs[scheme] != nil:
		return parseCrypt(scheme, value)
	case unsupportedSchemes[scheme]:
		return nil, fmt.Errorf("scheme {%s} is not supported; rehash with `doveadm pw -s BLF-CRYPT` or SHA512-CRYPT", scheme)
	case scheme == "":
		return nil, errors.New("empty scheme {}")
	default:
		return nil, fmt.Errorf("unknown scheme {%s}", scheme)
	}
}

// CheckScheme checks a scheme name given as the default scheme (Dovecot's
// scheme= argument, with an optional .HEX or .B64 suffix) and returns it
// upper case. Its error says why the scheme cannot be used.
func CheckScheme(scheme string) (string, error) {
	up := strings.ToUpper(strings.TrimSpace(scheme))
	name, enc, hasEnc := strings.Cut(up, ".")
	if hasEnc {
		switch enc {
		case "HEX", "B64", "BASE64":
		default:
			return "", fmt.Errorf("scheme %q: unknown encoding %q (want HEX, B64 or BASE64)", scheme, enc)
		}
	}
	switch {
	case plainSchemes[name] || cryptIDs[name] != nil:
		return up, nil
	case unsupportedSchemes[name]:
		return "", fmt.Errorf("scheme %q is not supported (supported: BLF-CRYPT, SHA512-CRYPT, SHA256-CRYPT, MD5-CRYPT, ARGON2ID, ARGON2I, CRYPT, PLAIN)", scheme)
	default:
		return "", fmt.Errorf("unknown scheme %q (supported: BLF-CRYPT, SHA512-CRYPT, SHA256-CRYPT, MD5-CRYPT, ARGON2ID, ARGON2I, CRYPT, PLAIN)", scheme)
	}
}

// decodeEncoding undoes a Dovecot encoding suffix.
func decodeEncoding(enc, value string) (string, error) {
	switch strings.ToUpper(enc) {
	case "HEX":
		b, err := hex.DecodeString(value)
		if err != nil {
			return "", errors.New("invalid hex encoding")
		}
		return string(b), nil
	case "B64", "BASE64":
		b, err := base64.StdEncoding.DecodeString(value)
		if err != nil {
			b, err = base64.RawStdEncoding.DecodeString(value)
		}
		if err != nil {
			return "", errors.New("invalid base64 encoding")
		}
		return string(b), nil
	}
	return "", fmt.Errorf("unknown encoding %q (want HEX, B64 or BASE64)", enc)
}

// parseCrypt decodes a crypt(3)-style hash of a Dovecot crypt scheme.
func parseCrypt(scheme, value string) (*password, error) {
	parts := strings.Split(value, "$")
	if len(parts) < 3 || parts[0] != "" {
		if scheme == "CRYPT" && value != "" && !strings.HasPrefix(value, "$") {
			return nil, errors.New("not a $id$ crypt hash (traditional DES crypt is not supported; a plain-text password needs a {PLAIN} prefix)")
		}
		return nil, fmt.Errorf("malformed %s hash: not a $id$ crypt hash", scheme)
	}
	id := parts[1]
	known := false
	for _, want := range cryptIDs[scheme] {
		known = known || id == want
	}
	if !known {
		if scheme == "CRYPT" {
			return nil, fmt.Errorf("unsupported crypt hash type $%s$", id)
		}
		return nil, fmt.Errorf("%s hashes start with $%s$, not $%s$", scheme, strings.Join(cryptIDs[scheme], "$ or $"), id)
	}
	digest, err := decoder.Decode(value)
	if err != nil {
		return nil, fmt.Errorf("malformed %s hash%s", scheme, sentinelReason(err))
	}
	if n, ok := cryptKeyLen[id]; ok && len(parts[len(parts)-1]) != n {
		return nil, fmt.Errorf("malformed %s hash: the hash part has %d characters, want %d", scheme, len(parts[len(parts)-1]), n)
	}
	return &password{digest: digest, scheme: scheme, cost: costClass(parts)}, nil
}

// sentinelReason turns a go-crypt decoding error into text that does not
// quote the hash: ": " and the message of the go-crypt error it wraps.
func sentinelReason(err error) string {
	for _, s := range decodeSentinels {
		if errors.Is(err, s) {
			return ": " + s.Error()
		}
	}
	return ""
}

// costClass is what makes two crypt hashes cost the same to check: the
// hash with its salt and key left out. bcrypt keeps salt and key in one
// field; the others in two.
func costClass(parts []string) string {
	keep := len(parts) - 2
	if strings.HasPrefix(parts[1], "2") {
		keep = len(parts) - 1
	}
	return strings.Join(parts[:keep], "$")
}
