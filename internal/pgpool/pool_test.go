package pgpool

import (
	"bytes"
	"io"
	"reflect"
	"testing"

	"github.com/jackc/pgx/v5/pgproto3"
)

// TestMaxConns checks the size of a pool: DefaultMaxConns unless the DSN
// sets pool_max_conns. Creating a pool does not connect, so no database
// is needed.
func TestMaxConns(t *testing.T) {
	for _, tc := range []struct {
		dsn  string
		want int32
	}{
		{"postgres://pop3@127.0.0.1:1/mail?sslmode=disable", DefaultMaxConns()},
		{"host=127.0.0.1 port=1 dbname=mail sslmode=disable", DefaultMaxConns()},
		{"postgres://pop3@127.0.0.1:1/mail?sslmode=disable&pool_max_conns=3", 3},
		{"host=127.0.0.1 port=1 dbname=mail pool_max_conns=30", 30},
	} {
		pool, err := Acquire(tc.dsn, 0)
		if err != nil {
			t.Fatalf("%s: %v", tc.dsn, err)
		}
		if got := pool.Config().MaxConns; got != tc.want {
			t.Errorf("%s: MaxConns %d, want %d", tc.dsn, got, tc.want)
		}
		Release(tc.dsn)
	}
	if DefaultMaxConns() < 8 {
		t.Errorf("DefaultMaxConns %d, want at least 8", DefaultMaxConns())
	}
}

// countingReader counts the reads of a connection.
type countingReader struct {
	r     io.Reader
	reads int
}

func (c *countingReader) Read(p []byte) (int, error) {
	c.reads++
	return c.r.Read(p)
}

// TestBufferedFrontend checks that a pool's connections read through a
// buffer larger than pgx's 8 KiB: 20 rows of 4 KiB waiting in the socket
// (the content of a login) take at most two reads, where pgx alone reads
// at least once per 8 KiB.
func TestBufferedFrontend(t *testing.T) {
	var wire []byte
	for range 20 {
		var err error
		wire, err = (&pgproto3.DataRow{Values: [][]byte{bytes.Repeat([]byte{'x'}, 4096)}}).Encode(wire)
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name     string
		build    func(io.Reader, io.Writer) *pgproto3.Frontend
		maxReads int
	}{
		{"buffered", bufferedFrontend, 2},
		{"pgx's own (the yardstick)", pgproto3.NewFrontend, 100},
	} {
		conn := &countingReader{r: bytes.NewReader(wire)}
		f := tc.build(conn, io.Discard)
		for i := range 20 {
			msg, err := f.Receive()
			if err != nil {
				t.Fatalf("%s: row %d: %v", tc.name, i, err)
			}
			if row, ok := msg.(*pgproto3.DataRow); !ok || len(row.Values) != 1 || len(row.Values[0]) != 4096 {
				t.Fatalf("%s: row %d: %T %v", tc.name, i, msg, msg)
			}
		}
		if conn.reads > tc.maxReads {
			t.Errorf("%s: %d reads for 80 KiB, want at most %d", tc.name, conn.reads, tc.maxReads)
		}
		t.Logf("%s: %d reads", tc.name, conn.reads)
	}
	pool, err := Acquire("postgres://pop3@127.0.0.1:1/mail?sslmode=disable", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer Release("postgres://pop3@127.0.0.1:1/mail?sslmode=disable")
	if reflect.ValueOf(pool.Config().ConnConfig.BuildFrontend).Pointer() != reflect.ValueOf(bufferedFrontend).Pointer() {
		t.Error("the pool's connections do not use the buffered frontend")
	}
}
