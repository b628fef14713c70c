package maildir

import (
	"strings"
	"testing"
)

// FuzzParseUIDList checks that no dovecot-uidlist makes the parser panic,
// and that every record it returns gives a UIDL (or falls back) without
// panicking.
func FuzzParseUIDList(f *testing.F) {
	for _, seed := range []string{
		"3 V1275660208 N25022 G3085f01b7f11094c501100008c4a11c1\n25021 W123 S120 G0123 :1700000001.M2P1.host,S=120:2,RS\n",
		"1 1275660208 4\n1 1700000000.M1P1.host:2,S\n",
		"2 99 3\n1 0 a.host:2,\n",
		"3 V7\n1  P :x\n",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		l, err := parseUIDList(strings.NewReader(in))
		if err != nil {
			return
		}
		for base, rec := range l.byBase {
			if base == "" || rec.uid == 0 {
				t.Errorf("record %+v under %q", rec, base)
			}
			_ = defaultUIDLFormat.uidl(l.validity, rec)
		}
	})
}
