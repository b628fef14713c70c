package passwdfile

import (
	"bufio"
	"io"
	"strings"

	"github.com/go-crypt/crypt/algorithm"
)

// maxLineLen is the longest line the parser reads. Real lines are a few
// hundred bytes; this only bounds memory on a wrong file.
const maxLineLen = 64 * 1024

// dummyHash is what an unknown user's password is checked against when the
// file has no usable hash at all: SHA512-CRYPT of "secret" with the default
// 5000 rounds, as glibc's crypt(3) computes it.
const dummyHash = "$6$saltsaltsaltsalt$ph0yGsyjzqdeFaon7.gJZo8eAG5/rj9/JdzOu1Rl7dKzBYg3xgvl7T2VQ2Rt81bc5AXkdA54r0p8QvC1omD6R1"

// builtinDummy decodes dummyHash.
func builtinDummy() algorithm.Digest {
	return DummyHash().pw.digest
}

// table is the parsed file: who may log in, and with what.
type table struct {
	// users holds the users that may log in; users whose line is bad or
	// who are disabled are not in it.
	users map[string]*password
	// dummy is checked instead when the user is not in users, so that an
	// unknown user costs the same time as a known one: a hash of the
	// most common scheme and cost in the file. The result is never used.
	dummy algorithm.Digest
	// common is the cost class of dummy; "" for the built-in one.
	common string
	// lines is the number of user lines, good or bad.
	lines int
	// err is set when the file could not be read and no users were read
	// from it before: no user can be checked, which is the server's fault.
	err error
}

// problem is a line that gives no usable user.
type problem struct {
	line   int
	user   string
	reason string
	// intended is true when the file disables the user on purpose
	// (nologin): worth a debug line, not a warning.
	intended bool
}

// parse reads a Dovecot passwd-file:
//
//	user:password:uid:gid:gecos:home:shell:extra_fields
//
// Only user and password are required. Lines that are empty or start with
// # are skipped, as are lines starting with : (no user), like Dovecot does.
// A line that gives no usable user is returned as a problem; the other
// users are still in the table. An error means the file could not be read.
// def is the scheme of passwords without {SCHEME} (see CheckScheme).
func parse(r io.Reader, def string) (*table, []problem, error) {
	t := &table{users: make(map[string]*password)}
	var problems []problem
	counts := make(map[string]int)
	var common string

	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxLineLen)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSuffix(sc.Text(), "\r")
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ":") {
			continue
		}
		t.lines++
		fields := strings.Split(line, ":")
		user := fields[0]
		if _, dup := t.users[user]; dup {
			problems = append(problems, problem{line: n, user: user, reason: "user appears more than once; the first line is used"})
			continue
		}
		if len(fields) < 2 {
			problems = append(problems, problem{line: n, user: user, reason: "no password"})
			continue
		}
		pw, err := parsePasswordDefault(fields[1], def)
		if err != nil {
			problems = append(problems, problem{line: n, user: user, reason: err.Error()})
			continue
		}
		if len(fields) > 7 {
			// Dovecot joins what follows the shell back with ":".
			if reason, intended := checkExtraFields(strings.Join(fields[7:], ":")); reason != "" {
				problems = append(problems, problem{n, user, reason, intended})
				continue
			}
		}
		t.users[user] = pw
		counts[pw.cost]++
		if t.dummy == nil || counts[pw.cost] > counts[common] {
			common, t.dummy = pw.cost, pw.digest
		}
	}
	if err := sc.Err(); err != nil {
		return nil, nil, err
	}
	t.common = common
	if t.dummy == nil {
		t.dummy = builtinDummy()
	}
	return t, problems, nil
}

// checkExtraFields looks at a line's extra fields (space-separated
// key=value, Dovecot's passdb extra fields) for those that restrict or
// change how the user logs in. It returns why the user cannot log in, or
// "", and whether that is on purpose (nologin) rather than a limitation.
func checkExtraFields(extra string) (reason string, intended bool) {
	for _, f := range strings.Fields(extra) {
		key, _, _ := strings.Cut(f, "=")
		switch strings.ToLower(key) {
		case "nologin":
			return "disabled by the nologin extra field", true
		case "nopassword":
			return "the nopassword extra field is not supported; the user is disabled", false
		case "allow_nets", "allow_real_nets":
			return "the " + key + " extra field is not supported; the user is disabled rather than allowed from everywhere", false
		case "proxy", "proxy_maybe":
			return "the " + key + " extra field is not supported (no proxying); the user is disabled", false
		}
	}
	return "", false
}
