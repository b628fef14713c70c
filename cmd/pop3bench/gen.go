package main

import (
	"bytes"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Bounds of a generated tree.
const (
	maxGenMessages = 100000
	maxGenSize     = 64 << 20
	maxGenTotal    = 16 << 30
	// attachmentFrom is the size from which a generated message carries a
	// base64 attachment instead of only text.
	attachmentFrom = 256 << 10
)

// genConfig says what tree to generate.
type genConfig struct {
	out        string
	users      int
	firstUser  int
	userPrefix string
	userWidth  int
	messages   int
	size       int
	seed       uint64
}

// generate writes maildirs <out>/<user>/Maildir with messages in new/, as
// an MTA delivers them: LF line endings, realistic headers, text with some
// lines that begin with '.', and for big sizes a base64 attachment.
func generate(args []string, stdout io.Writer) error {
	g := &genConfig{}
	fs := flag.NewFlagSet("pop3bench gen", flag.ContinueOnError)
	fs.StringVar(&g.out, "out", "", "mail `root`: maildirs are written to <root>/<user>/Maildir (required)")
	fs.IntVar(&g.users, "users", 20, "number of users")
	fs.IntVar(&g.firstUser, "first-user", 0, "number of the first user")
	fs.StringVar(&g.userPrefix, "user-prefix", "user", "user name prefix")
	fs.IntVar(&g.userWidth, "user-width", 3, "user number width, zero-padded")
	fs.IntVar(&g.messages, "messages", 20, "messages per user")
	fs.IntVar(&g.size, "size", 4096, "approximate size of each message in bytes (LF line endings)")
	fs.Uint64Var(&g.seed, "seed", 1, "random seed: the same flags and seed give the same tree")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	switch {
	case g.out == "":
		return errors.New("-out is required")
	case g.users < 1 || g.users > maxUsers || g.firstUser < 0:
		return fmt.Errorf("-users: must be 1..%d", maxUsers)
	case g.messages < 0 || g.messages > maxGenMessages:
		return fmt.Errorf("-messages: must be 0..%d", maxGenMessages)
	case g.size < 512 || g.size > maxGenSize:
		return fmt.Errorf("-size: must be 512..%d", maxGenSize)
	case int64(g.users)*int64(g.messages)*int64(g.size) > maxGenTotal:
		return fmt.Errorf("the tree would exceed %d GiB", maxGenTotal>>30)
	}
	var total int64
	for u := range g.users {
		user := fmt.Sprintf("%s%0*d", g.userPrefix, g.userWidth, g.firstUser+u)
		n, err := g.writeMaildir(user, g.firstUser+u)
		if err != nil {
			return err
		}
		total += n
	}
	fmt.Fprintf(stdout, "generated %d users x %d messages (%d bytes) under %s\n", g.users, g.messages, total, g.out)
	return nil
}

// writeMaildir creates one user's maildir and its messages.
func (g *genConfig) writeMaildir(user string, userNum int) (int64, error) {
	root := filepath.Join(g.out, user, "Maildir")
	for _, sub := range []string{"cur", "new", "tmp"} {
		if err := os.MkdirAll(filepath.Join(root, sub), 0o700); err != nil {
			return 0, err
		}
	}
	var total int64
	for i := range g.messages {
		rng := rand.New(rand.NewPCG(g.seed, uint64(userNum)<<20|uint64(i)))
		msg := composeMessage(rng, user, i, g.size)
		// Unique names of the form <time>.M<usec>P<pid>Q<n>.<host>.
		name := fmt.Sprintf("%d.M%06dP%dQ%d.bench", 1700000000+i, (userNum*7919+i)%1000000, 4000+userNum, i)
		if err := os.WriteFile(filepath.Join(root, "new", name), msg, 0o600); err != nil {
			return 0, err
		}
		total += int64(len(msg))
	}
	return total, nil
}

// words is the vocabulary of generated text.
var words = strings.Fields(`the a of to and in is it you that he was for on are with as I his they be at one
have this from or had by hot word but what some we can out other were all there when up use your how said an
each she which do their time if will way about many then them write would like so these her long make thing see
him two has look more day could go come did number sound no most people my over know water than call first who
may down side been now find any new work part take get place made live where after back little only round man
year came show every good me give our under name very through just form sentence great think say help low line
differ turn cause much mean before move right boy old too same tell does set three want air well also play small
end put home read hand port large spell add even land here must big high such follow act why ask men change went
light kind off need house picture try us again animal point mother world near build self earth father meeting
invoice shipment quarterly report attached please review schedule budget server mailbox delivery regards thanks`)

// dotLines are lines that must be dot-stuffed on the wire.
var dotLines = []string{".", "..", "...", ". indented with a dot", ".hidden line that starts with a dot", "...and so on", ".\t."}

// composeMessage writes a message of about size bytes with LF endings.
func composeMessage(rng *rand.Rand, user string, n, size int) []byte {
	var b bytes.Buffer
	b.Grow(size + 1024)
	date := time.Unix(1700000000+int64(n)*3600, 0).UTC()
	from := words[rng.IntN(len(words))] + "." + words[rng.IntN(len(words))]
	fmt.Fprintf(&b, "Return-Path: <%s@example.org>\n", from)
	fmt.Fprintf(&b, "Delivered-To: %s@bench.example\n", user)
	fmt.Fprintf(&b, "Received: from mx%d.example.org (mx%d.example.org [192.0.2.%d])\n\tby mail.bench.example (Postfix) with ESMTPS id %08X\n\tfor <%s@bench.example>; %s\n",
		n%5, n%5, 10+n%200, rng.Uint32(), user, date.Format(time.RFC1123Z))
	fmt.Fprintf(&b, "Date: %s\n", date.Format(time.RFC1123Z))
	fmt.Fprintf(&b, "From: %s <%s@example.org>\n", strings.ToUpper(from[:1])+from[1:], from)
	fmt.Fprintf(&b, "To: %s@bench.example\n", user)
	fmt.Fprintf(&b, "Subject: %s %s %s (%d)\n", words[rng.IntN(len(words))], words[rng.IntN(len(words))], words[rng.IntN(len(words))], n)
	fmt.Fprintf(&b, "Message-ID: <%d.%s.%08x@example.org>\n", n, user, rng.Uint32())
	b.WriteString("MIME-Version: 1.0\n")

	if size < attachmentFrom {
		b.WriteString("Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n")
		writeBody(&b, rng, size)
		return b.Bytes()
	}
	boundary := fmt.Sprintf("=_bench_%08x", rng.Uint32())
	fmt.Fprintf(&b, "Content-Type: multipart/mixed; boundary=\"%s\"\n\nThis is a multi-part message in MIME format.\n\n", boundary)
	fmt.Fprintf(&b, "--%s\nContent-Type: text/plain; charset=utf-8\n\n", boundary)
	writeBody(&b, rng, b.Len()+2048)
	fmt.Fprintf(&b, "\n--%s\nContent-Type: application/octet-stream\nContent-Disposition: attachment; filename=\"data-%d.bin\"\nContent-Transfer-Encoding: base64\n\n", boundary, n)
	raw := make([]byte, 57) // 57 bytes encode to one 76-character line
	line := make([]byte, 76)
	for b.Len() < size-len(boundary)-8 {
		for i := range raw {
			raw[i] = byte(rng.Uint32())
		}
		base64.StdEncoding.Encode(line, raw)
		b.Write(line)
		b.WriteByte('\n')
	}
	fmt.Fprintf(&b, "--%s--\n", boundary)
	return b.Bytes()
}

// writeBody writes paragraphs of wrapped text until b holds about size
// bytes. About one line in twenty begins with '.', some are quoted and
// some are empty.
func writeBody(b *bytes.Buffer, rng *rand.Rand, size int) {
	var line []byte
	for b.Len() < size {
		switch r := rng.IntN(100); {
		case r < 5:
			b.WriteString(dotLines[rng.IntN(len(dotLines))])
			b.WriteByte('\n')
			continue
		case r < 12:
			b.WriteString("\n")
			continue
		case r < 18:
			line = append(line[:0], "> "...)
		default:
			line = line[:0]
		}
		width := 50 + rng.IntN(26)
		for len(line) < width {
			if len(line) > 2 || (len(line) > 0 && line[0] != '>') {
				line = append(line, ' ')
			}
			line = append(line, words[rng.IntN(len(words))]...)
		}
		b.Write(line)
		b.WriteByte('\n')
	}
	b.WriteString("-- \nSent by the pop3bench generator\n")
}
